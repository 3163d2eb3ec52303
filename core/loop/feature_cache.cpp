#include "loop/feature_cache.h"

#include "data/prefetcher.h"
#include "runner/precision.h"

#include <fmt/format.h>
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

torch::Tensor run_prefix(Classifier& model, std::size_t stages, const torch::Tensor& images) {
  return stages == Classifier::kWholeBackbone ? model.backbone().forward(images)
                                              : model.backbone().forward_stages(images, 0, stages);
}

}  // namespace

FeatureCachePlan plan_feature_cache(const TrainConfig& config, const AugmentConfig& augment, Classifier& model,
                                    const std::vector<std::shared_ptr<Regularization>>& regularizations,
                                    const BatchSource& train, std::int64_t examples, std::int64_t budget_bytes) {
  if (config.feature_cache == "off") return {};
  auto refuse = [&](const std::string& why) {
    FeatureCachePlan plan;
    plan.reason = "feature cache not used: " + why;
    return plan;
  };
  FeatureCachePlan plan;
  if (model.backbone_fixed()) {
    plan.stages = Classifier::kWholeBackbone;
  } else {
    const std::size_t frozen = model.frozen_leading_stages();
    if (frozen == 0) return refuse("no leading stage of the backbone is frozen (backbone.freeze)");
    if (!model.backbone().splits_at_stages()) {
      return refuse(
          fmt::format("the backbone's first {} stage(s) are frozen, but it cannot be split at its stages "
                      "(Backbone::forward_stages); freeze it wholly to cache its features",
                      frozen));
    }
    // What follows the last stage (pooling, a feature dropout) runs at every step, so the last stage does too
    // unless the whole backbone is frozen.
    plan.stages = std::min(frozen, model.backbone().stages().size() - 1);
    if (plan.stages == 0)
      return refuse("only the backbone's single stage is frozen, and its output is pooled after it");
  }
  if (augment.random_crop || augment.hflip) {
    return refuse("dataset.augment changes the images before the frozen stages every epoch");
  }
  const Batch sample = train.batch(torch::arange(std::min<std::int64_t>(2, train.size()), torch::kLong));
  for (const auto& regularization : regularizations) {
    if (changes_batches(*regularization, sample)) {
      return refuse("a regularization changes the batches before the frozen stages");
    }
  }
  {
    EvalScope eval(model);
    const auto activations = run_prefix(model, plan.stages, sample.inputs);
    const std::int64_t per_image = activations.numel() / activations.size(0);
    plan.bytes = examples * per_image * (config.feature_cache_dtype == "bf16" ? 2 : 4);
  }
  if (config.feature_cache == "auto" && plan.bytes > budget_bytes) {
    return refuse(
        fmt::format("the cache would take {:.1f} GB, over the budget of {:.1f} GB (feature_cache = "
                    "\"memory\" forces it)",
                    plan.bytes / 1e9, budget_bytes / 1e9));
  }
  plan.use = true;
  return plan;
}

BatchSource cache_features(Classifier& model, std::size_t stages, const BatchSource& images, std::int64_t batch_size,
                           std::int64_t loader_threads, const std::string& precision, const std::string& dtype) {
  EvalScope eval(model);
  const auto device = model.parameters().front().device();
  Prefetcher prefetcher(images, torch::arange(images.size(), torch::kLong), batch_size, loader_threads);
  std::vector<torch::Tensor> activations, labels;
  for (std::int64_t step = 0; step < prefetcher.batches(); ++step) {
    const Batch batch = prefetcher.next(step);
    AutocastScope autocast(device.type(), precision);
    activations.push_back(
        run_prefix(model, stages, batch.inputs).to(dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32));
    labels.push_back(batch.targets);
  }
  return BatchSource(torch::cat(activations), torch::cat(labels));
}

std::int64_t feature_cache_budget(c10::Device device) {
  if (device.is_cuda()) {
    // Without a cheap query of free GPU memory here: 4 GB, safe on any current GPU.
    return 4LL << 30;
  }
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  std::int64_t kilobytes = 0;
  while (meminfo >> key >> kilobytes >> unit) {
    if (key == "MemAvailable:") return kilobytes * 1024 / 4;
  }
  return 1LL << 30;
}

}  // namespace ft
