#pragma once
// The training loop's events, and the callbacks that act on them (MMEngine's hooks, Lightning's callbacks). Each
// callback owns one concern (metric rows, the progress line, the schedule, best and last checkpoints, early
// stopping, pruning, the test evaluation) and saves and restores its own part of the checkpoint.
//
// Callbacks see host values only: the loop reads losses back from the device in batches (every
// `train.log_every` steps and at each epoch's end), never inside a step.

#include "model/checkpoint.h"
#include "store/results_store.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ft {

/// One optimizer step, as read back from the device.
struct StepRecord {
  std::int64_t epoch = 0;
  std::int64_t global_step = 0;
  /// The step's loss (the mean over its micro-batches, and over processes); may be NaN or infinite.
  double loss = 0;
  /// The gradients' global norm before clipping, when clipping is on.
  std::optional<double> grad_norm;
  /// fp16: the step was skipped because its gradients overflowed; `loss_scale` is the scale after it.
  bool skipped = false;
  double loss_scale = 0;
  /// Each parameter group's learning rate during the step.
  std::vector<double> learning_rates;
};

/// One epoch, once trained and (maybe) evaluated.
struct EpochRecord {
  std::int64_t epoch = 0;
  std::int64_t global_step = 0;
  /// train_loss and train_<metric> for each of the task's metrics, and, when evaluated, val_loss and val_<metric>.
  std::map<std::string, double> metrics;
  bool evaluated = false;
  double seconds = 0;
  /// Training examples of the epoch, over all processes.
  std::int64_t examples = 0;
  /// Set by the best-checkpoint callback: the monitored metric improved (absent when it was not measured).
  std::optional<bool> improved;
};

/// What the loop and its callbacks share.
struct LoopState {
  std::int64_t epochs = 0;
  std::int64_t steps_per_epoch = 0;
  std::int64_t epoch = 0;        // the current epoch; after it ends, the last completed one
  std::int64_t global_step = 0;  // optimizer steps taken
  std::vector<std::string> group_names;
  /// The task's metrics ("accuracy", "perplexity"), the primary one first.
  std::vector<std::string> metrics;
  /// The metric that judges the run (`train.monitor`, or its train_ twin when there is no validation split).
  std::string monitor;
  /// Training examples of the current epoch so far, over all processes.
  std::int64_t epoch_examples = 0;
  /// The best value of `monitor` so far and its epoch (kept by the best-checkpoint callback).
  std::optional<double> best;
  std::optional<std::int64_t> best_epoch;
  /// Metric rows waiting for the recorder; any callback may add "final" rows here.
  std::vector<MetricRow> rows;
  /// Set by a callback to end training after this epoch's checkpoint (early stopping, a pruner).
  bool stop = false;
  /// Set by a callback to end training at once: no epoch summary, checkpoint or test (the learning-rate test).
  bool end_now = false;
  /// Why a pruner stopped the run.
  std::optional<std::string> pruned;
  /// This process writes the store, the checkpoints and the progress line (rank 0, or the only process).
  bool leader = true;
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_start(LoopState&) {}
  /// Before every optimizer step (the schedule sets the learning rates here).
  virtual void before_step(LoopState&) {}
  /// Steps read back from the device, in order.
  virtual void on_steps(LoopState&, const std::vector<StepRecord>&) {}
  /// After an epoch's training and evaluation, in callback order.
  virtual void on_epoch_end(LoopState&, EpochRecord&) {}
  /// The epoch's checkpoint, complete (weights and every part of the state); called on every process.
  virtual void on_checkpoint(LoopState&, const TensorMap&) {}
  /// Training ended normally (the test evaluation happens here).
  virtual void on_train_end(LoopState&) {}
  /// Training ends early: Ctrl-C, divergence, an error, or `end_now`. Last chance to record what is known.
  virtual void on_halt(LoopState&) {}
  /// Adds this callback's state to a checkpoint, under "__ftrun__/" names.
  virtual void save(TensorMap&) const {}
  /// Restores it from a checkpoint written by save().
  virtual void load(const TensorMap&) {}
};

}  // namespace ft
