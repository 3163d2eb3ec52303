#pragma once
// Linear probing and other runs whose whole backbone is frozen: when nothing random reaches the backbone (no
// augmentation of the images, no regularization that changes batches) and it stays in eval mode
// (`freeze = ["*"]`), its output for an image never changes. Its features are then computed once per image and
// the head trains on them: every epoch after the first skips the backbone entirely. `train.feature_cache`
// chooses ("auto": when allowed and within the memory budget; "memory"; "off"), `train.feature_cache_dtype`
// stores them as fp32 (exact) or bf16 (half the memory).

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
  /// Why not, in one line for the log (empty when used, or when it was turned off).
  std::string reason;
};

/// Whether this run can train on cached features, and if not, why. `train` gives a sample batch to check the
/// regularizations with; `examples` is the number of images to cache (every split).
FeatureCachePlan plan_feature_cache(const TrainConfig& config, const AugmentConfig& augment, Classifier& model,
                                    const std::vector<std::shared_ptr<Regularization>>& regularizations,
                                    const BatchSource& train, std::int64_t examples, std::int64_t budget_bytes);

/// The backbone's features of every example of `images`, in order, as a source of ready inputs: computed in
/// eval mode without gradients, `batch_size` images at a time, stored on the device in `dtype`.
BatchSource cache_features(Classifier& model, const BatchSource& images, std::int64_t batch_size,
                           std::int64_t loader_threads, const std::string& precision, const std::string& dtype);

/// The bytes a cache may take: a quarter of the GPU's memory or of the host's available memory.
std::int64_t feature_cache_budget(c10::Device device);

}  // namespace ft
