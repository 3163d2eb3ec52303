#pragma once
// The training loop itself, kept short: epochs of optimizer steps (TrainStep), an evaluation after each epoch,
// and callbacks for everything else (loop/callback.h). It owns the data order and the random streams, reads
// losses back every `log_every` steps, and assembles the checkpoint from each part's own state.

#include "config/experiment.h"
#include "data/batch_source.h"
#include "loop/callback.h"
#include "loop/evaluation.h"
#include "loop/train_step.h"
#include "loop/weight_average.h"
#include "model/training_state.h"
#include "training/signals.h"

#include <optional>
#include <vector>

namespace ft {

class ProcessGroup;

/// Thrown when the training loss stops being a finite number; the run is recorded as "diverged".
class Diverged : public Error {
 public:
  using Error::Error;
};

/// Thrown after the epoch a sweep's pruner stopped (its checkpoint saved); the run is recorded as "pruned".
class Pruned : public Error {
 public:
  using Error::Error;
};

struct LoopSetup {
  Classifier* model = nullptr;
  TrainStep* step = nullptr;
  const BatchSource* train = nullptr;
  const BatchSource* validation = nullptr;  // nullptr: no validation split
  TrainConfig config;
  AugmentConfig augment;
  std::uint64_t seed = 0;
  EvaluationSetup evaluation;
  /// The other processes of a data-parallel run; nullptr for a single process.
  ProcessGroup* group = nullptr;
  /// A moving average of the weights, updated after every step and saved in checkpoints; nullptr: none.
  WeightAverage* average = nullptr;
};

class TrainingLoop {
 public:
  TrainingLoop(LoopSetup setup, LoopState state);
  /// Adds a callback after those added before: each event reaches them in that order.
  void add(Callback& callback) { callbacks_.push_back(&callback); }
  /// Trains to the configured epochs, or from `resume` on. Throws Interrupted, Diverged or Pruned as they
  /// happen (callbacks' on_halt called first), and whatever a step or callback throws.
  void run(const std::optional<TrainingState>& resume = std::nullopt);
  const LoopState& state() const { return state_; }

 private:
  void train_epoch();
  void finish_epoch(double seconds);
  /// Reads the pending steps back, hands them to the callbacks, and throws when a loss diverged or a process
  /// asked to stop.
  void read_back(bool stop_wanted);
  template <class Event>
  void each(Event&& event) {
    for (Callback* callback : callbacks_) event(*callback);
  }

  LoopSetup s_;
  LoopState state_;
  std::vector<Callback*> callbacks_;
  std::int64_t batches_per_epoch_ = 0;
};

/// Random streams per epoch and process, derived from the run's seed (data/sharding.h's derived_seed): the data
/// order (the same on every process), augmentation, and LibTorch's own generators (dropout, mixup).
inline constexpr std::uint64_t kOrderStream = 0;
inline constexpr std::uint64_t kAugmentStream = 1'000'000;
inline constexpr std::uint64_t kTorchStream = 2'000'000;
/// Seeds the draws of datasets that augment while decoding (Split::get_for_training), with the index mixed in.
inline constexpr std::uint64_t kDecodeStream = 3'000'000;

}  // namespace ft
