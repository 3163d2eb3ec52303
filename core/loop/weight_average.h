#pragma once
// An exponential moving average of the model's weights (Polyak averaging; timm's ModelEmaV3): after every
// optimizer step, average = decay * average + (1 - decay) * weights, over every floating parameter and buffer
// (BatchNorm's running statistics too; integer buffers are copied). With warm-up the decay starts low and rises,
// 1 - (1 + step)^(-2/3), capped at `decay`, so the average is not anchored to the first, untrained weights.
//
// The loop can evaluate (and so pick the best checkpoint, and test) on the average instead of the trained
// weights, and saves the average in every checkpoint so a resumed run continues it exactly. It is part of the core,
// not a plugin: it needs the evaluation and the checkpoint, which the plugin interface does not reach.

#include "model/checkpoint.h"
#include "model/model.h"

#include <torch/types.h>

#include <string>
#include <vector>

namespace ft {

class WeightAverage {
 public:
  /// Starts from the model's current weights.
  WeightAverage(Classifier& model, double decay, bool warmup);

  /// Folds the model's weights in after optimizer step `step` (1, 2, ...); device work only.
  void update(std::int64_t step);
  /// The decay used after step `step`.
  double decay_at(std::int64_t step) const;

  /// Swaps the model's weights with the average (call again to swap back).
  void swap();

  /// Adds the average to a checkpoint, under "__ftrun__/weight_average/<name>".
  void save(TensorMap& checkpoint) const;
  /// Restores it; throws Error naming the missing tensor when the checkpoint has none.
  void load(const TensorMap& checkpoint);

 private:
  std::vector<std::string> names_;
  std::vector<torch::Tensor> live_, averaged_;              // floating point: averaged
  std::vector<torch::Tensor> live_exact_, averaged_exact_;  // integers: copied
  double decay_;
  bool warmup_;
};

/// Evaluates on the average while alive: swaps it in, and back out when destroyed.
class AveragedWeightsScope {
 public:
  explicit AveragedWeightsScope(WeightAverage* average) : average_(average) {
    if (average_) average_->swap();
  }
  ~AveragedWeightsScope() {
    if (average_) average_->swap();
  }
  AveragedWeightsScope(const AveragedWeightsScope&) = delete;
  AveragedWeightsScope& operator=(const AveragedWeightsScope&) = delete;

 private:
  WeightAverage* average_;
};

}  // namespace ft
