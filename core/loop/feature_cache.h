#pragma once
// The feature cache. Fine-tuning often freezes the first part of the backbone: when that part stays in eval mode
// (frozen by `backbone.freeze`, BatchNorm included) and nothing random reaches it (no augmentation of the images,
// no regularization that changes batches), its output for an image never changes. Its activations are then
// computed once per image, and training runs the rest of the network on them. Two cases:
// - the whole backbone frozen (`freeze = ["*"]`, linear probing): the head trains on cached features; any
//   backbone;
// - its first k stages frozen (`freeze = ["conv1", "bn1", "layer1", "layer2"]`): cached activations after stage
//   k, the later stages and the head train; backbones that implement Backbone::forward_stages (the ResNets,
//   convnet).
// `train.feature_cache` chooses ("auto": when allowed and within the memory budget; "memory"; "off"),
// `train.feature_cache_dtype` stores activations as fp32 (exact) or bf16 (half the memory).

#include "config/experiment.h"
#include "data/batch_source.h"
#include "runner/model.h"

#include <ftsdk/regularization.h>

#include <memory>
#include <string>
#include <vector>

namespace ft {

struct FeatureCachePlan {
  bool use = false;
  /// The backbone stages computed once: Classifier::kWholeBackbone, or a count of leading stages.
  std::size_t stages = 0;
  /// Bytes the cache takes.
  std::int64_t bytes = 0;
  /// Why not, in one line for the log (empty when used, or when it was turned off).
  std::string reason;
};

/// Whether this run can train on cached activations, which, and if not, why. `train` gives a sample batch (to
/// check the regularizations and measure the activations); `examples` is the number of images to cache.
FeatureCachePlan plan_feature_cache(const TrainConfig& config, const AugmentConfig& augment, Classifier& model,
                                    const std::vector<std::shared_ptr<Regularization>>& regularizations,
                                    const BatchSource& train, std::int64_t examples, std::int64_t budget_bytes);

/// The cached activations of every example of `images`, in order, as a source of ready inputs: the plan's
/// stages run in eval mode without gradients, `batch_size` images at a time, stored on the device in `dtype`.
BatchSource cache_features(Classifier& model, std::size_t stages, const BatchSource& images, std::int64_t batch_size,
                           std::int64_t loader_threads, const std::string& precision, const std::string& dtype);

/// The bytes a cache may take: a quarter of the host's available memory, or 4 GB of a GPU.
std::int64_t feature_cache_budget(c10::Device device);

}  // namespace ft
