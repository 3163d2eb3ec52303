#include "loop/feature_cache.h"

#include "data/prefetcher.h"
#include "runner/precision.h"

#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <fstream>

namespace ft {
namespace {

// True when `regularization` changes a batch before the forward pass (mixup, cutmix): a real batch goes in and is
// compared with what comes out. (The random numbers it may draw do not matter: the loop reseeds every epoch.)
bool changes_batches(Regularization& regularization, const Batch& sample) {
  Batch probe{sample.inputs.clone(), sample.targets.clone()};
  regularization.transform_batch(probe);
  return probe.inputs.sizes() != sample.inputs.sizes() || probe.targets.sizes() != sample.targets.sizes() ||
         probe.targets.scalar_type() != sample.targets.scalar_type() || !torch::equal(probe.inputs, sample.inputs) ||
         !torch::equal(probe.targets, sample.targets);
}

}  // namespace

FeatureCachePlan plan_feature_cache(const TrainConfig& config, const AugmentConfig& augment, Classifier& model,
                                    const std::vector<std::shared_ptr<Regularization>>& regularizations,
                                    const BatchSource& train, std::int64_t examples, std::int64_t budget_bytes) {
  if (config.feature_cache == "off") return {false, ""};
  auto refuse = [&](const std::string& why) { return FeatureCachePlan{false, "feature cache not used: " + why}; };
  if (!model.backbone_fixed()) {
    return refuse("the backbone trains or is not wholly frozen (the cache needs backbone.freeze = [\"*\"])");
  }
  if (augment.random_crop || augment.hflip) {
    return refuse("dataset.augment changes the images before the backbone every epoch");
  }
  const Batch sample = train.batch(torch::arange(std::min<std::int64_t>(2, train.size()), torch::kLong));
  for (const auto& regularization : regularizations) {
    if (changes_batches(*regularization, sample)) {
      return refuse("a regularization changes the batches before the backbone");
    }
  }
  const std::int64_t bytes =
      examples * model.backbone().feature_size() * (config.feature_cache_dtype == "bf16" ? 2 : 4);
  if (config.feature_cache == "auto" && bytes > budget_bytes) {
    return refuse(
        fmt::format("the features would take {:.1f} GB, over the budget of {:.1f} GB (feature_cache = "
                    "\"memory\" forces it)",
                    bytes / 1e9, budget_bytes / 1e9));
  }
  return {true, ""};
}

BatchSource cache_features(Classifier& model, const BatchSource& images, std::int64_t batch_size,
                           std::int64_t loader_threads, const std::string& precision, const std::string& dtype) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const auto device = model.parameters().front().device();
  Prefetcher prefetcher(images, torch::arange(images.size(), torch::kLong), batch_size, loader_threads);
  std::vector<torch::Tensor> features, labels;
  for (std::int64_t step = 0; step < prefetcher.batches(); ++step) {
    const Batch batch = prefetcher.next(step);
    AutocastScope autocast(device.type(), precision);
    features.push_back(model.backbone().forward(batch.inputs).to(dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32));
    labels.push_back(batch.targets);
  }
  model.train(was_training);
  return BatchSource(torch::cat(features), torch::cat(labels));
}

std::int64_t feature_cache_budget(c10::Device device) {
  if (device.is_cuda()) {
    // Without a cheap query of free memory here, a quarter of a 16 GB GPU: a safe floor for any current GPU.
    return 4LL << 30;
  }
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::int64_t kilobytes = 0;
  std::string unit;
  while (meminfo >> key >> kilobytes >> unit) {
    if (key == "MemAvailable:") return kilobytes * 1024 / 4;
  }
  return 1LL << 30;
}

}  // namespace ft
