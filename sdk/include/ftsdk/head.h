#pragma once
/// @file
/// Head plugins: the new, task-specific layers put on top of a backbone.

#include <ftsdk/logger.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>

namespace ft {

/// Maps backbone features `[N, in_features]` to logits `[N, num_classes]` (or `[N, T, in_features]` to
/// `[N, T, num_classes]` when the task wants a prediction per token: a head acting on the last dimension, as
/// torch::nn::Linear does, serves both).
class Head : public torch::nn::Module {
 public:
  /// Logits for a batch of features.
  virtual torch::Tensor forward(torch::Tensor features) = 0;
};

/// What a head factory is given besides its parameters.
struct HeadContext {
  /// Width of the backbone's features.
  std::int64_t in_features = 0;
  /// Width of the output the task wants (Task::num_outputs): the dataset's classes, or its vocabulary.
  std::int64_t num_classes = 0;
  /// Where to write messages.
  Logger& log;
};

}  // namespace ft
