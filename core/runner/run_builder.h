#pragma once
// Builds one run's components from plugins (dataset, task, backbone, head, optimizer, regularizations), checks them
// against each other, loads the backbone's weights and freezes what the experiment freezes: everything a run needs
// before it is recorded, so a typo or missing data is a configuration problem, not a failed run.

#include "config/experiment.h"
#include "loader/plugin_catalog.h"
#include "model/model.h"
#include "store/results_store.h"

#include <c10/core/Device.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ft {

/// Everything one run needs, built before the run is recorded.
struct BuiltRun {
  std::shared_ptr<Dataset> dataset;
  DatasetInfo info;
  std::shared_ptr<Task> task;
  /// The task's plugin is of ABI 7 or newer: evaluation may ask it for tables (Task::evaluation_tables).
  bool task_keeps_tables = false;
  std::shared_ptr<Classifier> model;
  std::shared_ptr<torch::optim::Optimizer> optimizer;
  std::vector<std::string> group_names;
  std::vector<std::shared_ptr<Regularization>> regularizations;
  std::vector<PluginUse> plugins;
  std::optional<std::int64_t> parent_run_id;
};

class RunBuilder {
 public:
  /// Without a store (a data-parallel follower), backbone weights are not read: rank 0 sends its weights once
  /// the model is built.
  RunBuilder(PluginCatalog& catalog, ResultsStore* store, const std::map<std::string, std::int64_t>& stage_runs)
      : catalog_(catalog), store_(store), stage_runs_(stage_runs) {}

  /// What a build is for. A later stage is built twice: checked before the first stage trains (its `stage:`
  /// weights do not exist yet, other weights are only checked to exist), then built for training once its turn
  /// comes (already checked: no second shape check or optimizer probe, so no repeated warnings).
  enum class Purpose { check_and_train, check_only, train_checked };

  /// Builds `run` on `device`; every unknown plugin key is reported at once (ConfigError).
  BuiltRun build(const RunConfig& run, c10::Device device, Purpose purpose = Purpose::check_and_train);

 private:
  /// Where the backbone's weights are: a file, or the checkpoint of an earlier run or stage.
  struct Resolved {
    std::string path;
    std::optional<std::int64_t> run_id;
  };

  BuiltRun build_components(const RunConfig& run, c10::Device device, Purpose purpose);
  static std::vector<ParamGroupSpec> backbone_groups(Backbone& backbone, const BackboneConfig& config);
  Resolved resolve_weights(const RunConfig& run);

  PluginCatalog& catalog_;
  ResultsStore* store_;
  const std::map<std::string, std::int64_t>& stage_runs_;
};

}  // namespace ft
