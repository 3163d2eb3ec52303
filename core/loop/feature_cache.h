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
// `train.feature_cache` chooses where the activations live: "auto" takes the first of the device's memory, the
// host's memory (on a GPU) and a file that fits its budget; "memory" keeps them in the device's memory, "disk" in a
// memory-mapped file; "off" never caches. `train.feature_cache_dtype` stores them as fp32 (exact) or bf16 (half the
// bytes). A file is kept next to the run folders and named by a key of what made it (the frozen stages' weights,
// the data's parameters, dtype and precision): a later stage or run that would compute the same activations maps
// it instead, after checking a few images against it.

#include "config/experiment.h"
#include "data/batch_source.h"
#include "model/model.h"

#include <ftsdk/regularization.h>

#include <memory>
#include <string>
#include <vector>

namespace ft {

enum class FeatureCacheTier { device, host, disk };

/// The bytes a cache may take in each place.
struct FeatureCacheBudget {
  /// In the device's memory: a quarter of the host's available memory on the CPU, 4 GB of a GPU.
  std::int64_t device = 0;
  /// In host memory, when the device is a GPU (otherwise the same as `device`).
  std::int64_t host = 0;
  /// On disk, in the cache folder: half its free space; 0 when there is no folder.
  std::int64_t disk = 0;
};

struct FeatureCachePlan {
  bool use = false;
  /// The backbone stages computed once: Classifier::kWholeBackbone, or a count of leading stages.
  std::size_t stages = 0;
  FeatureCacheTier tier = FeatureCacheTier::device;
  /// Bytes the cache takes.
  std::int64_t bytes = 0;
  /// Why not, in one line for the log (empty when used, or when it was turned off).
  std::string reason;
};

/// Whether this run can train on cached activations, which, where, and if not, why. `train` gives a sample batch
/// (to check the regularizations and measure the activations); `examples` is the number of images to cache.
FeatureCachePlan plan_feature_cache(const TrainConfig& config, const AugmentConfig& augment, Classifier& model,
                                    const std::vector<std::shared_ptr<Regularization>>& regularizations,
                                    const BatchSource& train, std::int64_t examples, const FeatureCacheBudget& budget);

/// How one split is cached.
struct FeatureCacheRequest {
  std::size_t stages = 0;
  FeatureCacheTier tier = FeatureCacheTier::device;
  /// The training device.
  c10::Device device = c10::Device(c10::kCPU);
  std::string dtype = "fp32", precision = "fp32";
  std::int64_t batch_size = 256, loader_threads = 0;
  /// The split's cache file (read when it matches, written for the disk tier); empty: none.
  std::string file;
  /// What the file must have been made from (feature_cache_key).
  std::string key;
};

struct CachedSplit {
  BatchSource source;
  /// True when a cache file was reused instead of running the stages.
  bool reused = false;
};

/// The cached activations of every example of `images`, in order, as a source of ready inputs: the plan's
/// stages run in eval mode without gradients, `batch_size` images at a time, or a matching cache file is read.
CachedSplit cache_features(Classifier& model, const BatchSource& images, const FeatureCacheRequest& request);

/// A fingerprint of the weights and buffers of the backbone's first `stages` stages (all of them for
/// Classifier::kWholeBackbone): what makes the cached activations. Computed once per run, for every split's key.
std::string frozen_stages_fingerprint(Classifier& model, std::size_t stages);

/// Names a split's activations by what determines them: the cached stages' weights (`weights`, from
/// frozen_stages_fingerprint), the data (`data`: the dataset's type, parameters and seed, and the split's name),
/// and how they are computed and stored.
std::string feature_cache_key(const std::string& weights, std::size_t stages, const std::string& data,
                              const std::string& dtype, const std::string& precision, bool channels_last);

/// What each place can hold, for training on `device` with cache files in `folder` (may be empty).
FeatureCacheBudget feature_cache_budget(c10::Device device, const std::string& folder);

}  // namespace ft
