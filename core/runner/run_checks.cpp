#include "runner/run_checks.h"

#include "config/join.h"
#include "config/nearest_key.h"

#include <ftsdk/error.h>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>

namespace ft {

void check_dataset_info(const DatasetInfo& info, const Task& task, const RunConfig& run) {
  const auto reads = task.reads();
  const bool labelled = std::find(reads.begin(), reads.end(), tensor_names::kLabels) != reads.end();
  const auto channels = static_cast<std::size_t>(info.input.channels);
  const bool images = std::find(info.tensors.begin(), info.tensors.end(), tensor_names::kImages) != info.tensors.end();
  const bool consistent = (!labelled || info.num_classes >= 2) &&
                          (!images || (channels > 0 && info.mean.size() == channels && info.std.size() == channels)) &&
                          (images || info.text.vocab_size > 0);
  if (!consistent) {
    throw PluginError(fmt::format(
        "dataset '{}' describes itself inconsistently: {} classes, {} channels, {} means, {} standard deviations, "
        "a vocabulary of {}, tensors {}",
        run.dataset.type, info.num_classes, channels, info.mean.size(), info.std.size(), info.text.vocab_size,
        fmt::join(info.tensors, ", ")));
  }
}

void check_tensor_names(const DatasetInfo& info, const Backbone& backbone, const Task& task, const RunConfig& run) {
  auto missing = [&](const std::vector<std::string>& wanted) {
    std::vector<std::string> out;
    for (const auto& name : wanted) {
      if (std::find(info.tensors.begin(), info.tensors.end(), name) == info.tensors.end()) out.push_back(name);
    }
    return out;
  };
  if (const auto absent = missing(backbone.inputs()); !absent.empty()) {
    throw ConfigError(
        fmt::format("{}: backbone '{}' reads {}, but dataset '{}' has {} (a text backbone needs a text "
                    "dataset, an image backbone an image dataset)",
                    run.backbone.where.str(), run.backbone.type, fmt::join(absent, ", "), run.dataset.type,
                    fmt::join(info.tensors, ", ")));
  }
  if (const auto absent = missing(task.reads()); !absent.empty()) {
    throw ConfigError(fmt::format("{}: task '{}' reads {}, but dataset '{}' has {}", run.task.where.str(),
                                  run.task.type, fmt::join(absent, ", "), run.dataset.type,
                                  fmt::join(info.tensors, ", ")));
  }
}

void check_outputs(Classifier& model, const Split& train, const Task& task, const RunConfig& run) {
  if (train.size() == 0) throw DataError(fmt::format("dataset '{}': the training split is empty", run.dataset.type));
  // Two copies of the first example, images as blank floats: the shapes are what is checked, not the values.
  Batch batch;
  for (const auto& [name, tensor] : train.get(0)) {
    auto two = torch::stack({tensor, tensor});
    if (name == tensor_names::kImages) two = torch::zeros(two.sizes(), torch::kFloat32);
    batch[name] = two;
  }
  const bool per_token = task.feature_shape() == FeatureShape::per_token;
  const bool pyramid = task.feature_shape() == FeatureShape::pyramid;
  torch::Tensor outputs;
  try {
    EvalScope eval(model);
    auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
    task.prepare(batch, generator);
    outputs = model.forward(batch, task);
  } catch (const c10::Error& e) {
    throw PluginError(fmt::format("backbone '{}' with head '{}' cannot take the examples of dataset '{}' ({}): {}",
                                  run.backbone.type, run.head.type, run.dataset.type, fmt::join(batch.names(), ", "),
                                  e.what_without_backtrace()));
  }
  // Per token, the task may have selected some positions (masked_lm: the masked ones): only the width is known.
  // Per anchor point, a detection head's rows hold the classes' scores and what the task adds (boxes).
  const bool shape_ok = per_token ? outputs.size(-1) == task.num_outputs()
                        : pyramid ? outputs.defined() && outputs.dim() == 3 && outputs.size(0) == 2 &&
                                        outputs.size(2) > task.num_outputs()
                                  : outputs.dim() == 2 && outputs.size(0) == 2 && outputs.size(1) == task.num_outputs();
  if (pyramid && !outputs.defined()) {
    throw PluginError(
        fmt::format("head '{}' does not read a feature pyramid (Head::forward_pyramid), which task '{}' "
                    "gives it; use a detection head such as 'fcos'",
                    run.head.type, run.task.type));
  }
  if (pyramid && !shape_ok) {
    throw PluginError(fmt::format(
        "head '{}' produced outputs of shape [{}] for a batch of 2 from the backbone's feature pyramid, expected [2, "
        "anchors, {} classes + box values] for task '{}'",
        run.head.type, fmt::join(outputs.sizes(), ", "), task.num_outputs(), run.task.type));
  }
  if (!shape_ok) {
    throw PluginError(fmt::format(
        "head '{}' produced outputs of shape [{}] for a batch of 2, expected [2, {}{}] (one {} per {} for task '{}' "
        "on dataset '{}')",
        run.head.type, fmt::join(outputs.sizes(), ", "), per_token ? "T, " : "", task.num_outputs(),
        per_token ? "score" : "logit", per_token ? "token and vocabulary entry" : "class", run.task.type,
        run.dataset.type));
  }
}

void check_pyramid_run(const Task& task, const RunConfig& run) {
  if (task.feature_shape() != FeatureShape::pyramid) return;
  const AugmentConfig& augment = run.augment;
  std::vector<std::string> geometric;
  if (augment.random_crop) geometric.push_back("random_crop");
  if (augment.hflip) geometric.push_back("hflip");
  if (augment.random_resized_crop) geometric.push_back("random_resized_crop");
  if (augment.trivial_augment) geometric.push_back("trivial_augment");
  if (augment.rand_augment) geometric.push_back("rand_augment");
  if (!geometric.empty()) {
    throw ConfigError(fmt::format(
        "dataset.augment: {} would move the images without their boxes, which task '{}' reads; use the dataset's "
        "box-aware augmentation instead (the coco dataset's hflip and scale_range; color_jitter and random_erasing "
        "are fine)",
        fmt::join(geometric, ", "), run.task.type));
  }
  for (const auto& regularization : run.regularizations) {
    if (regularization.type == "mixup" || regularization.type == "label_smoothing") {
      throw ConfigError(fmt::format(
          "{}: regularization '{}' works on class labels, and task '{}' predicts boxes; a detection run takes "
          "regularizations of the weights (l2sp, the optimizer's weight_decay)",
          regularization.where.str(), regularization.type, run.task.type));
    }
  }
  if (run.train.cuda_graph) {
    throw ConfigError(
        fmt::format("train.cuda_graph: task '{}' matches a different number of objects in every batch, "
                    "which a captured graph cannot replay; set it to false",
                    run.task.type));
  }
  if (run.train.feature_cache == "memory" || run.train.feature_cache == "disk") {
    throw ConfigError(
        fmt::format("train.feature_cache = \"{}\": task '{}' reads the backbone's feature pyramid, "
                    "which the cache does not hold; leave it \"auto\" or \"off\"",
                    run.train.feature_cache, run.task.type));
  }
}

void check_pyramid_components(const Backbone& backbone, std::uint32_t backbone_abi, std::uint32_t head_abi,
                              const RunConfig& run) {
  auto too_old = [&](const ComponentConfig& component, const char* kind, std::uint32_t abi) {
    return PluginError(fmt::format(
        "{} '{}' is built against plugin ABI {}, before feature pyramids (ABI 7, ftsdk 2.3): task '{}' cannot "
        "use it; rebuild it against ftsdk 2.3 and implement {}::forward_pyramid",
        kind, component.type, abi, run.task.type, kind[0] == 'b' ? "Backbone" : "Head"));
  };
  if (backbone_abi < 7) throw too_old(run.backbone, "backbone", backbone_abi);
  if (head_abi < 7) throw too_old(run.head, "head", head_abi);
  if (backbone.pyramid_channels().empty()) {
    throw ConfigError(
        fmt::format("{}: task '{}' reads a feature pyramid, which backbone '{}' does not make (resnet "
                    "does)",
                    run.backbone.where.str(), run.task.type, run.backbone.type));
  }
}

void check_monitor(const Task& task, const RunConfig& run) {
  const std::string& monitor = run.train.monitor;
  std::vector<std::string> known = {"val_loss", "train_loss"};
  for (const auto& metric : task.metrics()) {
    known.push_back("val_" + metric.name);
    known.push_back("train_" + metric.name);
  }
  if (std::find(known.begin(), known.end(), monitor) == known.end()) {
    throw ConfigError(fmt::format("train.monitor: task '{}' reports no metric \"{}\"{} (it reports: {})", run.task.type,
                                  monitor, did_you_mean(monitor, known), join(known)));
  }
}

}  // namespace ft
