#pragma once
/// @file
/// Head plugins: the new, task-specific layers put on top of a backbone.

#include <ftsdk/logger.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>

namespace ft {

/// Maps backbone features `[N, in_features]` to class logits `[N, num_classes]`.
class Head : public torch::nn::Module {
 public:
  /// Logits for a batch of features.
  virtual torch::Tensor forward(torch::Tensor features) = 0;
};

/// What a head factory is given besides its parameters.
struct HeadContext {
  /// Width of the backbone's features.
  std::int64_t in_features = 0;
  /// Number of classes of the dataset.
  std::int64_t num_classes = 0;
  /// Where to write messages.
  Logger& log;
};

}  // namespace ft
