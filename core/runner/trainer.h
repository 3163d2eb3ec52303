#pragma once
// One run's training, assembled: the data pipeline, the step, the loop and its callbacks (loop/), and the
// gradient all-reduce when the run spans several processes.

#include "config/experiment.h"
#include "loop/training_loop.h"
#include "model/model.h"
#include "model/training_state.h"
#include "store/results_store.h"

#include <ftsdk/dataset.h>
#include <ftsdk/regularization.h>
#include <ftsdk/task.h>

#include <c10/core/Device.h>
#include <torch/optim/optimizer.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ft {

struct TrainerSetup {
  Classifier* model = nullptr;
  /// What the model is trained to do: targets, loss, metrics.
  const Task* task = nullptr;
  /// The task is of ABI 7 or newer: evaluation asks it for tables (Task::evaluation_tables).
  bool task_keeps_tables = false;
  torch::optim::Optimizer* optimizer = nullptr;
  /// Names of the optimizer's parameter groups, in order (recorded as lr/<name>).
  std::vector<std::string> group_names;
  std::vector<std::shared_ptr<Regularization>> regularizations;
  DatasetInfo info;
  std::shared_ptr<const Split> train, validation, test;
  TrainConfig config;
  ScheduleConfig schedule;
  AugmentConfig augment;
  c10::Device device = c10::Device(c10::kCPU);
  std::string precision = "fp32";
  bool channels_last = false;
  std::uint64_t seed = 0;
  /// Receives metric rows (buffered; called at least once per epoch).
  std::function<void(const std::vector<MetricRow>&)> record;
  /// Where last.pt (weights and training state, after every epoch) and best.pt (weights at the best value of
  /// the monitored metric) are written.
  std::string checkpoint_dir;
  /// Where feature cache files are kept and shared between runs (empty: none; followers take the leader's).
  std::string feature_cache_dir;
  /// What the dataset's examples are made from (its type, parameters and seed), for the feature cache's key.
  std::string data_identity;
  /// Called after last.pt was written, with its path.
  std::function<void(const std::string& path)> on_checkpoint;
  /// After each optimizer step, with its loss (maybe not finite): true to end training there, without test
  /// (the learning-rate range test).
  std::function<bool(std::int64_t global_step, double loss)> after_step;
  /// After each evaluation, once its rows are recorded: a reason to stop now (a sweep's pruner), or nothing.
  std::function<std::optional<std::string>(std::int64_t epoch)> prune;
  /// The other processes of a data-parallel run (nullptr: one process). Only the leader records and writes.
  ProcessGroup* group = nullptr;
  /// Continue from this state (ftrun resume) instead of starting afresh.
  std::optional<TrainingState> resume;
};

/// "min" or "max" for `monitor` (train_loss, val_accuracy, ...): `mode` unless it is "auto", then lower for losses
/// and the task's own direction for its metrics.
std::string monitor_direction(const Task& task, const std::string& monitor, const std::string& mode);

class Trainer {
 public:
  explicit Trainer(TrainerSetup setup);
  ~Trainer();
  /// Trains for the configured epochs. Throws Interrupted on Ctrl-C/SIGTERM, Diverged when the loss stops being
  /// finite, Pruned when a pruner stopped it.
  void fit();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ft
