#include "loop/feature_cache.h"

#include "config/fingerprint.h"
#include "config/join.h"
#include "data/prefetcher.h"
#include "log/log.h"
#include "loop/feature_cache_file.h"
#include "model/device.h"
#include "model/precision.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

namespace ft {
namespace {

namespace fs = std::filesystem;

// True when `regularization` changes a batch before the forward pass (mixup, cutmix): a real batch goes in and is
// compared with what comes out. (The random numbers it may draw do not matter: the loop reseeds every epoch.)
bool changes_batches(Regularization& regularization, const Batch& sample) {
  Batch probe;
  for (const auto& [name, tensor] : sample) probe[name] = tensor.clone();
  // As the classification task forms them (the feature cache serves image classification).
  if (!probe.contains(tensor_names::kTargets)) probe[tensor_names::kTargets] = probe.at(tensor_names::kLabels).clone();
  regularization.transform_batch(probe);
  for (const auto& [name, tensor] : sample) {
    const auto& after = probe.at(name);
    if (after.sizes() != tensor.sizes() || after.scalar_type() != tensor.scalar_type() ||
        !torch::equal(after, tensor)) {
      return true;
    }
  }
  return false;
}

torch::Tensor run_prefix(Classifier& model, std::size_t stages, const torch::Tensor& images) {
  return stages == Classifier::kWholeBackbone ? model.backbone().forward(images)
                                              : model.backbone().forward_stages(images, 0, stages);
}

}  // namespace

FeatureCachePlan plan_feature_cache(const TrainConfig& config, const AugmentConfig& augment, Classifier& model,
                                    const std::vector<std::shared_ptr<Regularization>>& regularizations,
                                    const BatchSource& train, std::int64_t examples, const FeatureCacheBudget& budget) {
  if (config.feature_cache == "off") return {};
  auto refuse = [&](const std::string& why) {
    FeatureCachePlan plan;
    plan.reason = "feature cache not used: " + why;
    return plan;
  };
  if (model.backbone().inputs() != std::vector<std::string>{tensor_names::kImages}) {
    return refuse("it serves backbones of images; this one reads " + join(model.backbone().inputs()));
  }
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
  if (augment.any()) {
    return refuse("dataset.augment changes the images before the frozen stages every epoch");
  }
  if (train.draws_random()) return refuse("the dataset draws random crops of its training images every epoch");
  const Batch sample = train.batch(torch::arange(std::min<std::int64_t>(2, train.size()), torch::kLong));
  for (const auto& regularization : regularizations) {
    if (changes_batches(*regularization, sample)) {
      return refuse("a regularization changes the batches before the frozen stages");
    }
  }
  {
    EvalScope eval(model);
    const auto activations = run_prefix(model, plan.stages, sample.at(tensor_names::kImages));
    const std::int64_t per_image = activations.numel() / activations.size(0);
    plan.bytes = examples * per_image * (config.feature_cache_dtype == "bf16" ? 2 : 4);
  }
  if (config.feature_cache == "memory") {
    plan.tier = FeatureCacheTier::device;
  } else if (config.feature_cache == "disk") {
    if (budget.disk == 0) return refuse("there is no folder to keep a cache file in (a run without a store)");
    plan.tier = FeatureCacheTier::disk;
  } else if (plan.bytes <= budget.device) {
    plan.tier = FeatureCacheTier::device;
  } else if (plan.bytes <= budget.host) {
    plan.tier = FeatureCacheTier::host;
  } else if (plan.bytes <= budget.disk) {
    plan.tier = FeatureCacheTier::disk;
  } else {
    return refuse(
        fmt::format("the cache would take {:.1f} GB, over the budgets of memory ({:.1f} GB) and disk ({:.1f} GB); "
                    "feature_cache = \"memory\" or \"disk\" forces it",
                    plan.bytes / 1e9, std::max(budget.device, budget.host) / 1e9, budget.disk / 1e9));
  }
  plan.use = true;
  return plan;
}

CachedSplit cache_features(Classifier& model, const BatchSource& images, const FeatureCacheRequest& request) {
  const auto dtype = request.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  auto activations_of = [&](const torch::Tensor& inputs) {
    AutocastScope autocast(request.device.type(), request.precision);
    return run_prefix(model, request.stages, inputs).to(dtype);
  };
  EvalScope eval(model);
  // Where cached activations are kept: the disk tier maps the file; the others copy it to their memory.
  auto place = [&](CachedActivations cached) {
    if (request.tier == FeatureCacheTier::disk) return BatchSource(cached.inputs, cached.labels, request.device);
    const auto memory = request.tier == FeatureCacheTier::host ? c10::Device(c10::kCPU) : request.device;
    return BatchSource(cached.inputs.to(memory, /*non_blocking=*/false, /*copy=*/true),
                       cached.labels.to(memory, false, true), request.device);
  };

  if (!request.file.empty()) {
    if (auto cached = open_feature_cache(request.file, request.key, images.size())) {
      // The key names the data by its parameters, not its bytes: a few images are run again and compared, so a
      // folder whose images changed under the same parameters is caught.
      const auto sample = torch::arange(std::min<std::int64_t>(4, images.size()), torch::kLong);
      const Batch batch = images.batch(sample);
      const auto fresh = activations_of(batch.at(tensor_names::kImages)).to(torch::kCPU, torch::kFloat32);
      const auto stored = cached->inputs.index_select(0, sample).to(torch::kFloat32);
      const double tolerance = dtype == torch::kBFloat16 ? 2e-2 : 1e-4;
      if (fresh.sizes() == stored.sizes() && torch::allclose(fresh, stored, tolerance, tolerance) &&
          torch::equal(batch.at(tensor_names::kLabels).cpu(), cached->labels.index_select(0, sample))) {
        return {place(std::move(*cached)), true};
      }
      log::warn("feature cache " + request.file + " does not match its images any more; computing it again");
    }
  }

  Prefetcher prefetcher(images, torch::arange(images.size(), torch::kLong), request.batch_size, request.loader_threads);
  const Batch first = prefetcher.next(0);
  const auto first_activations = activations_of(first.at(tensor_names::kImages));
  std::unique_ptr<FeatureCacheWriter> writer;
  if (request.tier == FeatureCacheTier::disk) {
    const auto shape = first_activations.sizes().slice(1).vec();
    writer = std::make_unique<FeatureCacheWriter>(request.file, request.key, dtype, shape, images.size());
  }
  std::vector<torch::Tensor> activations, labels;
  for (std::int64_t step = 0; step < prefetcher.batches(); ++step) {
    const Batch batch = step == 0 ? first : prefetcher.next(step);
    auto computed = step == 0 ? first_activations : activations_of(batch.at(tensor_names::kImages));
    if (writer) {
      writer->append(computed, batch.at(tensor_names::kLabels));
      continue;
    }
    if (request.tier == FeatureCacheTier::host) computed = computed.cpu();
    activations.push_back(computed);
    labels.push_back(batch.at(tensor_names::kLabels).to(computed.device()));
  }
  if (writer) {
    writer->commit();
    writer.reset();
    auto cached = open_feature_cache(request.file, request.key, images.size());
    if (!cached) throw Error("feature cache: " + request.file + " could not be read back after writing it");
    return {place(std::move(*cached)), false};
  }
  return {BatchSource(torch::cat(activations), torch::cat(labels), request.device), false};
}

std::string frozen_stages_fingerprint(Classifier& model, std::size_t stages) {
  const auto stage_prefixes = model.backbone().stages();
  auto cached = [&](const std::string& name) {
    if (stages == Classifier::kWholeBackbone) return true;
    for (std::size_t stage = 0; stage < stages && stage < stage_prefixes.size(); ++stage) {
      for (const auto& prefix : stage_prefixes[stage]) {
        if (matches_prefix(name, prefix)) return true;
      }
    }
    return false;
  };
  Fingerprint fingerprint;
  const std::string backbone = "backbone.";
  for (const auto& [name, tensor] : model.state()) {
    if (name.rfind(backbone, 0) != 0 || !cached(name.substr(backbone.size()))) continue;
    const auto bytes = tensor.detach().to(torch::kCPU).contiguous();
    fingerprint.add(name);
    fingerprint.add(fmt::format("{}|{}", c10::toString(bytes.scalar_type()), fmt::join(bytes.sizes(), "x")));
    fingerprint.add(bytes.data_ptr(), bytes.numel() * bytes.element_size());
  }
  return fingerprint.hex();
}

std::string feature_cache_key(const std::string& weights, std::size_t stages, const std::string& data,
                              const std::string& dtype, const std::string& precision, bool channels_last) {
  Fingerprint fingerprint;
  fingerprint.add(
      fmt::format("ftrun feature cache 2|stages {}|{}|{}|channels_last {}", stages, dtype, precision, channels_last));
  fingerprint.add(data);
  fingerprint.add("weights " + weights);
  return fingerprint.hex();
}

FeatureCacheBudget feature_cache_budget(c10::Device device, const std::string& folder) {
  FeatureCacheBudget budget;
  budget.host = 1LL << 30;
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  std::int64_t kilobytes = 0;
  while (meminfo >> key >> kilobytes >> unit) {
    if (key == "MemAvailable:") budget.host = kilobytes * 1024 / 4;
  }
  // On a GPU, half of what is free once the model is on it: the other half is for the activations and gradients of
  // the stages that still train. 4 GB when the driver cannot say.
  if (device.is_cuda()) {
    budget.device = free_device_memory(device).value_or(8LL << 30) / 2;
  } else {
    budget.device = budget.host;
  }
  if (!folder.empty()) {
    std::error_code error;
    fs::path existing = fs::absolute(folder, error);
    while (!existing.empty() && !fs::exists(existing, error)) existing = existing.parent_path();
    const auto space = fs::space(existing, error);
    if (!error) budget.disk = static_cast<std::int64_t>(space.available / 2);
  }
  return budget;
}

}  // namespace ft
