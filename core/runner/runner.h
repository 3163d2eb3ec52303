#pragma once
// Runs an experiment plan: for each run (or stage), build the components from plugins, record the run, train.

#include "config/experiment.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ft {

class PluginCatalog;
class ProcessGroup;
class ResultsStore;

struct PlanResult {
  std::string group_id;
  std::vector<std::int64_t> run_ids;
  /// Why the last run was pruned (the plan's later runs were not started), or nothing.
  std::optional<std::string> pruned;
};

/// What a caller may add to the runs of a plan (a sweep worker: its pruner).
struct RunHooks {
  /// After each evaluation of run `run_id`: a reason to stop it now, or nothing.
  std::function<std::optional<std::string>(std::int64_t run_id, const RunConfig& run, std::int64_t epoch)> prune;
  /// After each optimizer step, with its loss: true to end the run there (the learning-rate range test).
  std::function<bool(std::int64_t global_step, double loss)> after_step;
};

class Runner {
 public:
  Runner(PluginCatalog& catalog, ResultsStore& store) : catalog_(catalog), store_(&store) {}
  /// One process of a data-parallel run: the leader (rank 0) passes the store and records the runs; the others
  /// pass nullptr, train the same runs in step with it and write nothing.
  Runner(PluginCatalog& catalog, ProcessGroup& group, ResultsStore* store)
      : catalog_(catalog), store_(store), group_(&group) {}
  /// Runs every run of the plan in order; a failing run stops the plan (the error propagates after the run is
  /// recorded as failed or interrupted). Later stages can use earlier stages' weights.
  PlanResult run(const ExperimentPlan& plan, const RunHooks& hooks = {});
  /// Builds every run of the plan as `run` does before training (plugins, keys, data, weights, shapes) and
  /// records nothing; throws the problems found, all of them. Returns which way the first run's primary metric
  /// improves, "min" or "max" (a sweep judged by it needs to know).
  std::string check(const ExperimentPlan& plan);
  /// Continues run `run_id` from its last checkpoint (weights, optimizer, schedule, random generators, epoch
  /// and step), as one run in the store: its metrics after that checkpoint are replaced. `plan` is the run's
  /// own resolved experiment (resolved_run_plan).
  PlanResult resume(std::int64_t run_id, const ExperimentPlan& plan);
  /// A data-parallel follower's part of `resume`: trains in step with rank 0, which sends the weights and the
  /// training state. `plan` is the one rank 0 resumes (sent by it).
  void resume_follower(const ExperimentPlan& plan);

 private:
  /// The device `run` trains on (cuda:LOCAL_RANK under a launcher); refuses train.cuda_graph where it cannot work.
  c10::Device device_for(const RunConfig& run) const;
  int threads_for(const RunConfig& run) const;
  /// A run resumes on as many processes as it was trained on (ConfigError otherwise).
  void check_world_size(std::int64_t run_id) const;

  PluginCatalog& catalog_;
  ResultsStore* store_;
  ProcessGroup* group_ = nullptr;
};

/// Loads the plugins a plan needs: explicit files (errors are fatal), then the search path.
void load_plugins(PluginCatalog& catalog, const ExperimentPlan& plan);

}  // namespace ft
