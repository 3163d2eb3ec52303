#include "runner/run_builder.h"

#include "log/log.h"
#include "model/checkpoint.h"
#include "model/memory.h"
#include "model/precision.h"
#include "runner/optimizer_probe.h"
#include "runner/run_checks.h"
#include "store/results_store.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;

namespace ft {

BuiltRun RunBuilder::build(const RunConfig& run, c10::Device device, Purpose purpose) {
  // Unknown keys of every component are collected and reported together at the end.
  std::vector<std::string> key_errors;
  catalog_.collect_key_errors(&key_errors);
  struct Restore {
    PluginCatalog& catalog;
    ~Restore() { catalog.collect_key_errors(nullptr); }
  } restore{catalog_};
  BuiltRun built;
  try {
    built = build_components(run, device, purpose);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // Moving the model to the device, or the first batch through it, ran out of memory.
    if (!is_allocation_failure(e)) throw;
    throw ResourceError(
        fmt::format("building run {} on {}: out of memory: {} (a smaller model, batch_size or "
                    "eval_batch_size, or another device)",
                    run.name, device.str(), memory_report(e, device)));
  }
  // The optimizer is built more than once (its probe), each build reporting the same keys: say each once.
  std::vector<std::string> distinct;
  for (const auto& error : key_errors) {
    if (std::find(distinct.begin(), distinct.end(), error) == distinct.end()) distinct.push_back(error);
  }
  if (!distinct.empty()) throw ConfigError(fmt::format("{}", fmt::join(distinct, "\n")));
  return built;
}

BuiltRun RunBuilder::build_components(const RunConfig& run, c10::Device device, Purpose purpose) {
  const bool load_weights = purpose != Purpose::check_only;
  const bool check = purpose != Purpose::train_checked;
  BuiltRun built;
  log::ComponentLogger dataset_log("dataset:" + run.dataset.type);
  try {
    const std::string cache_dir =
        store_ ? (fs::path(store_->checkpoint_dir()) / "dataset-cache").string() : std::string();
    built.dataset = catalog_.make_dataset(run.dataset.type, run.dataset.params, {run.seed, dataset_log, cache_dir});
  } catch (const DataError& missing_data) {
    // Say everything that is missing at once: a user fetching the data should fetch the weights too.
    std::string message = missing_data.what();
    if (!run.backbone.weights.empty() && store_) {
      try {
        resolve_weights(run);
      } catch (const Error& missing_weights) {
        message += std::string("\n") + missing_weights.what();
      }
    }
    throw DataError(message);
  }
  built.info = built.dataset->info();
  log::ComponentLogger task_log("task:" + run.task.type);
  built.task = catalog_.make_task(run.task.type, run.task.params, {built.info, task_log});
  built.task_keeps_tables = catalog_.origin("task", run.task.type).abi_version() >= 7;
  check_dataset_info(built.info, *built.task, run);
  check_monitor(*built.task, run);
  check_pyramid_run(*built.task, run);

  log::ComponentLogger backbone_log("backbone:" + run.backbone.type);
  const bool per_token = built.task->feature_shape() == FeatureShape::per_token;
  auto backbone = catalog_.make_backbone(run.backbone.type, run.backbone.params,
                                         {built.info.input, backbone_log, built.info.text, per_token});
  check_tensor_names(built.info, *backbone, *built.task, run);
  const bool pyramid = built.task->feature_shape() == FeatureShape::pyramid;
  if (pyramid) {
    check_pyramid_components(*backbone, catalog_.origin("backbone", run.backbone.type).abi_version(),
                             catalog_.origin("head", run.head.type).abi_version(), run);
  }
  log::ComponentLogger head_log("head:" + run.head.type);
  auto head = catalog_.make_head(run.head.type, run.head.params,
                                 {backbone->feature_size(), built.task->num_outputs(), head_log,
                                  pyramid ? backbone->pyramid_channels() : std::vector<std::int64_t>{}});
  built.model = std::make_shared<Classifier>(backbone, head);

  if (check) check_outputs(*built.model, *built.dataset->train(), *built.task, run);
  const bool from_stage = run.backbone.weights.rfind("stage:", 0) == 0;
  if (!run.backbone.weights.empty() && (load_weights || !from_stage) && store_) {
    const Resolved weights = resolve_weights(run);
    built.parent_run_id = weights.run_id;
    if (load_weights) load_backbone_weights(*built.model, load_tensors(weights.path), weights.path, backbone_log);
  }
  if (!run.head.weights.empty() && store_) {
    if (!fs::exists(run.head.weights)) {
      throw DataError(
          fmt::format("{}: head weights file {} not found. Expected a .safetensors file with head.* "
                      "tensors (`.venv/bin/python scripts/export_weights.py fcos_resnet50_fpn {} "
                      "--pretrained` writes a COCO detector's) or an ftrun checkpoint",
                      run.head.weights_where.str(), run.head.weights, run.head.weights));
    }
    if (load_weights) load_head_weights(*built.model, load_tensors(run.head.weights), run.head.weights, head_log);
  }
  // lr_mult = 0 is freeze = ["*"]: the whole backbone fixed and in eval mode, BatchNorm statistics included, so
  // the linear probe a user means is what runs (and the feature cache may serve it). A backbone stepped at a
  // zero rate would still move its BatchNorm statistics with every batch: a third meaning nobody asks for.
  const bool whole_backbone = run.backbone.lr_mult == 0;
  const std::vector<std::string> freeze = whole_backbone ? std::vector<std::string>{"*"} : run.backbone.freeze;
  if (!freeze.empty()) {
    const auto frozen = built.model->freeze(freeze);
    backbone_log.info(fmt::format("froze {} tensors ({}{})", frozen, fmt::join(freeze, ", "),
                                  whole_backbone ? ": backbone.lr_mult = 0" : ""));
  }
  built.model->to(device);
  if (run.channels_last) to_channels_last(*built.model);

  std::vector<ParamGroupSpec> groups;
  auto trainable = [](torch::nn::Module& module) {
    std::vector<torch::Tensor> params;
    for (auto& p : module.parameters()) {
      if (p.requires_grad()) params.push_back(p);
    }
    return params;
  };
  for (auto& group : backbone_groups(built.model->backbone(), run.backbone)) groups.push_back(std::move(group));
  groups.push_back({"head", trainable(built.model->head()), 1.0});
  for (const auto& group : groups) built.group_names.push_back(group.name);
  log::ComponentLogger optimizer_log("optimizer:" + run.optimizer.type);
  built.optimizer = catalog_.make_optimizer(run.optimizer.type, run.optimizer.params, {groups, optimizer_log});
  if (built.optimizer->param_groups().size() != groups.size()) {
    throw PluginError(fmt::format("optimizer '{}' made {} parameter groups, expected {} (one per group given)",
                                  run.optimizer.type, built.optimizer->param_groups().size(), groups.size()));
  }
  if (check) {
    const auto warning = probe_optimizer(catalog_, run.optimizer.type, run.optimizer.params, groups.size());
    if (!warning.empty()) optimizer_log.warn(warning);
  }

  for (const auto& config : run.regularizations) {
    log::ComponentLogger log("regularization:" + config.type);
    auto regularization = catalog_.make_regularization(config.type, config.params, {built.info.num_classes, log});
    regularization->attach(*built.model);
    built.regularizations.push_back(regularization);
  }

  auto use = [&](const std::string& kind, const std::string& type) {
    const ComponentOrigin origin = catalog_.origin(kind, type);
    built.plugins.push_back({kind, type, origin.plugin ? origin.plugin->path : "",
                             origin.plugin ? origin.plugin->name : "", origin.plugin ? origin.plugin->version : ""});
  };
  for (const auto& kind : plugin_kinds()) {
    if (const ComponentConfig* component = component_of(run, kind.name)) use(kind.name, component->type);
  }
  for (const auto& config : run.regularizations) use("regularization", config.type);
  return built;
}

// One group for the backbone, or with layer_decay one per stage ("backbone.layer3"), each stage learning
// layer_decay times slower than the one after it.
std::vector<ParamGroupSpec> RunBuilder::backbone_groups(Backbone& backbone, const BackboneConfig& config) {
  std::vector<ParamGroupSpec> groups;
  auto stages = config.layer_decay < 1 ? backbone.stages() : std::vector<std::vector<std::string>>{};
  ParamGroupSpec rest{"backbone", {}, config.lr_mult};
  std::vector<ParamGroupSpec> staged(stages.size());
  for (std::size_t i = 0; i < stages.size(); ++i) {
    staged[i] = {"backbone." + stages[i].front(),
                 {},
                 config.lr_mult * std::pow(config.layer_decay, static_cast<double>(stages.size() - 1 - i))};
  }
  for (auto& item : backbone.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    ParamGroupSpec* target = &rest;
    for (std::size_t i = 0; i < stages.size() && target == &rest; ++i) {
      for (const auto& prefix : stages[i]) {
        if (matches_prefix(item.key(), prefix)) target = &staged[i];
      }
    }
    target->params.push_back(item.value());
  }
  for (auto& group : staged) {
    if (!group.params.empty()) groups.push_back(std::move(group));
  }
  if (!rest.params.empty()) groups.push_back(std::move(rest));
  return groups;
}

RunBuilder::Resolved RunBuilder::resolve_weights(const RunConfig& run) {
  const std::string& weights = run.backbone.weights;
  const std::string where = run.backbone.weights_where.str();
  auto checkpoint_of_run = [&](std::int64_t id, const std::string& what) -> Resolved {
    auto path = store_->checkpoint_of(id);
    if (!path)
      throw ConfigError(fmt::format("{}: {} (run {}) has no checkpoint in {}", where, what, id, store_->path()));
    return {*path, id};
  };
  if (weights.rfind("stage:", 0) == 0) {
    const auto stage = weights.substr(6);
    auto it = stage_runs_.find(stage);
    if (it == stage_runs_.end()) throw ConfigError(fmt::format("{}: stage '{}' has not run", where, stage));
    return checkpoint_of_run(it->second, "stage '" + stage + "'");
  }
  if (weights.rfind("run:", 0) == 0) {
    std::int64_t id = 0;
    try {
      id = std::stoll(weights.substr(4));
    } catch (const std::exception&) {
      throw ConfigError(fmt::format("{}: expected run:<id>, e.g. run:12, got \"{}\"", where, weights));
    }
    if (!store_->status_of(id)) throw ConfigError(fmt::format("{}: no run {} in {}", where, id, store_->path()));
    return checkpoint_of_run(id, "run " + std::to_string(id));
  }
  if (!fs::exists(weights)) {
    throw DataError(
        fmt::format("{}: weights file {} not found. Expected a .safetensors file (write one with `.venv/bin/python "
                    "scripts/export_weights.py {} {} --pretrained`, which needs internet access once) or an ftrun "
                    "checkpoint; run:<id> and stage:<name> take the weights of an earlier run",
                    where, weights, run.backbone.type, weights));
  }
  return {weights, std::nullopt};
}

}  // namespace ft
