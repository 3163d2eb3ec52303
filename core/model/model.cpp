#include "model/model.h"

#include "config/nearest_key.h"
#include "log/printable.h"
#include "model/training_state.h"

#include <ftsdk/error.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

namespace ft {
namespace {

std::string shape_text(const torch::Tensor& tensor) { return fmt::format("[{}]", fmt::join(tensor.sizes(), ", ")); }

// Every parameter and buffer of `module`, by name.
TensorMap tensors_of(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& item : module.named_parameters()) out[item.key()] = item.value();
  for (const auto& item : module.named_buffers()) out[item.key()] = item.value();
  return out;
}

std::string first_names(const std::vector<std::string>& names, std::size_t limit = 5) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += fmt::format(", ... ({} more)", names.size() - limit);
  return out;
}

}  // namespace

bool matches_prefix(const std::string& name, const std::string& prefix) {
  return prefix == "*" || name == prefix || name.rfind(prefix + ".", 0) == 0;
}

Classifier::Classifier(std::shared_ptr<Backbone> backbone, std::shared_ptr<Head> head)
    : backbone_(register_module("backbone", std::move(backbone))), head_(register_module("head", std::move(head))) {}

torch::Tensor Classifier::forward(const Batch& batch, const Task& task) {
  if (task.feature_shape() == FeatureShape::pyramid) {
    // Detection: the head reads the backbone's maps whole (run_builder checked both are of ABI 7 or newer).
    const torch::Tensor& images = batch.at(tensor_names::kImages);
    return head_->forward_pyramid(backbone_->forward_pyramid(images), images.size(2), images.size(3));
  }
  if (inputs_after_ == 0) return head_->forward(task.select(backbone_->encode(batch), batch));
  return forward(batch);  // cached activations: image classification, whose task selects everything
}

torch::Tensor Classifier::forward(const Batch& batch) {
  if (inputs_after_ == 0) return head_->forward(backbone_->encode(batch));
  const torch::Tensor& images = batch.at(tensor_names::kImages);
  if (inputs_after_ == kWholeBackbone) return head_->forward(images);
  return head_->forward(backbone_->forward_stages(images, inputs_after_, backbone_->stages().size()));
}

std::size_t Classifier::frozen_leading_stages() const {
  std::size_t count = 0;
  for (const auto& stage : backbone_->stages()) {
    for (const auto& prefix : stage) {
      const bool frozen = std::any_of(frozen_prefixes_.begin(), frozen_prefixes_.end(),
                                      [&](const std::string& frozen) { return matches_prefix(prefix, frozen); });
      if (!frozen) return count;
    }
    ++count;
  }
  return count;
}

bool Classifier::backbone_fixed() const {
  for (const auto& parameter : backbone_->parameters()) {
    if (parameter.requires_grad()) return false;
  }
  // Frozen with freeze = ["*"]: the backbone itself is among the modules kept in eval mode.
  return std::any_of(frozen_modules_.begin(), frozen_modules_.end(),
                     [&](const auto& module) { return module.get() == backbone_.get(); });
}

std::int64_t Classifier::freeze(const std::vector<std::string>& prefixes) {
  std::int64_t frozen = 0;
  for (const auto& prefix : prefixes) {
    std::int64_t matched = 0;
    for (auto& item : backbone_->named_parameters()) {
      if (!matches_prefix(item.key(), prefix)) continue;
      item.value().set_requires_grad(false);
      ++matched;
    }
    if (matched == 0) {
      std::vector<std::string> top_level;
      for (const auto& child : backbone_->named_children()) top_level.push_back(child.key());
      throw ConfigError(fmt::format("backbone.freeze: '{}' matches no parameter of the backbone{} (its modules: {})",
                                    prefix, did_you_mean(prefix, top_level), fmt::join(top_level, ", ")));
    }
    frozen += matched;
    frozen_prefixes_.push_back(prefix);
    for (const auto& item : backbone_->named_modules("", /*include_self=*/prefix == "*")) {
      if (matches_prefix(item.key(), prefix)) frozen_modules_.push_back(item.value());
    }
  }
  return frozen;
}

void Classifier::set_training(bool training) {
  train(training);
  if (!training) return;
  for (auto& module : frozen_modules_) module->eval();
}

TensorMap Classifier::state() const { return tensors_of(*this); }

void load_backbone_weights(Classifier& model, const TensorMap& tensors, const std::string& origin, Logger& log) {
  // An ftrun checkpoint prefixes the backbone's names with "backbone."; a bare backbone file does not.
  const bool prefixed = std::any_of(tensors.begin(), tensors.end(),
                                    [](const auto& entry) { return entry.first.rfind("backbone.", 0) == 0; });
  const std::string prefix = prefixed ? "backbone." : "";

  TensorMap targets = tensors_of(model.backbone());

  std::vector<std::string> missing, mismatched, dropped;
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    auto found = tensors.find(prefix + name);
    if (found == tensors.end()) {
      missing.push_back(name);
      continue;
    }
    const torch::Tensor& source = found->second;
    if (source.sizes() != target.sizes()) {
      mismatched.push_back(fmt::format("{}: the backbone expects {}, {} holds {}", name, shape_text(target), origin,
                                       shape_text(source)));
      continue;
    }
    target.copy_(source);
  }
  std::set<std::string> used;
  for (const auto& entry : targets) used.insert(prefix + entry.first);
  for (const auto& entry : tensors) {
    if (!used.count(entry.first) && !is_training_state_name(entry.first)) dropped.push_back(printable(entry.first));
  }
  if (!mismatched.empty()) {
    throw DataError(fmt::format("weights {}: {} tensor(s) have the wrong shape:\n  {}", origin, mismatched.size(),
                                fmt::join(mismatched, "\n  ")));
  }
  if (!missing.empty()) {
    throw DataError(
        fmt::format("weights {}: {} backbone tensor(s) missing: {} (is it a checkpoint of the same "
                    "backbone type and size?)",
                    origin, missing.size(), first_names(missing)));
  }
  log.info(fmt::format("loaded {} backbone tensors from {}", targets.size(), origin));
  if (!dropped.empty()) {
    log.info(fmt::format("dropped {} tensor(s) that are not part of the backbone (the old head): {}", dropped.size(),
                         first_names(dropped)));
  }
}

void load_head_weights(Classifier& model, const TensorMap& tensors, const std::string& origin, Logger& log) {
  TensorMap targets = tensors_of(model.head());
  std::vector<std::string> missing, kept_new;
  std::size_t loaded = 0;
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    auto found = tensors.find("head." + name);
    if (found == tensors.end()) {
      missing.push_back(name);
    } else if (found->second.sizes() != target.sizes()) {
      kept_new.push_back(
          fmt::format("{} ({} here, {} in the file)", name, shape_text(target), shape_text(found->second)));
    } else {
      target.copy_(found->second);
      ++loaded;
    }
  }
  if (!missing.empty()) {
    throw DataError(
        fmt::format("head weights {}: {} head tensor(s) missing: {} (is it a file of the same head type "
                    "and size? its head tensors are named head.*)",
                    origin, missing.size(), first_names(missing)));
  }
  log.info(fmt::format("loaded {} head tensors from {}", loaded, origin));
  if (!kept_new.empty()) {
    log.info(fmt::format("{} head tensor(s) of another shape start new: {}", kept_new.size(), first_names(kept_new)));
  }
}

}  // namespace ft
