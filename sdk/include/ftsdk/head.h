#pragma once
/// @file
/// Head plugins: the new, task-specific layers put on top of a backbone.

#include <ftsdk/logger.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace ft {

/// Maps backbone features `[N, in_features]` to logits `[N, num_classes]` (or `[N, T, in_features]` to
/// `[N, T, num_classes]` when the task wants a prediction per token: a head acting on the last dimension, as
/// torch::nn::Linear does, serves both).
class Head : public torch::nn::Module {
 public:
  /// Logits for a batch of features.
  virtual torch::Tensor forward(torch::Tensor features) = 0;
  /// (ABI 7) Outputs for a backbone's feature pyramid (Backbone::forward_pyramid, finest map first), for a task
  /// that asks for FeatureShape::pyramid; `image_height` and `image_width` are the batch's image size, which
  /// places the maps' cells on the image. A detection head returns `[N, A, ...]`, one row per anchor point, as the
  /// task defines it (the `detection` task: docs/plugins.md). The default refuses: the head has no pyramid input.
  virtual torch::Tensor forward_pyramid(const std::vector<torch::Tensor>& levels, std::int64_t image_height,
                                        std::int64_t image_width) {
    (void)levels;
    (void)image_height;
    (void)image_width;
    return {};
  }
};

/// What a head factory is given besides its parameters.
struct HeadContext {
  /// Width of the backbone's features.
  std::int64_t in_features = 0;
  /// Width of the output the task wants (Task::num_outputs): the dataset's classes, or its vocabulary.
  std::int64_t num_classes = 0;
  /// Where to write messages.
  Logger& log;
  /// (ABI 7) For a task that asks for FeatureShape::pyramid: the channels of the backbone's maps, finest first
  /// (Backbone::pyramid_channels); empty otherwise. Read it only in a head built against ABI 7 or newer.
  std::vector<std::int64_t> pyramid_channels = {};
};

}  // namespace ft
