#include "runner/runner.h"

#include "config/config_tree.h"
#include "distributed/process_group.h"
#include "distributed/share_tensors.h"
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "runner/checkpoint.h"
#include "runner/device.h"
#include "runner/model.h"
#include "runner/optimizer_probe.h"
#include "runner/precision.h"
#include "runner/run_checks.h"
#include "runner/trainer.h"
#include "runner/training_state.h"
#include "store/results_store.h"

#include <ftsdk/version.h>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

namespace fs = std::filesystem;

namespace ft {
namespace {

std::string make_group_id(const std::string& name) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return fmt::format("{}-{:x}-{:x}", name, std::chrono::duration_cast<std::chrono::milliseconds>(now).count(),
                     ::getpid());
}

// Everything one run needs, built before the run is recorded: a typo or a missing dataset is a configuration
// problem, not a failed run.
struct BuiltRun {
  std::shared_ptr<Dataset> dataset;
  DatasetInfo info;
  std::shared_ptr<Task> task;
  std::shared_ptr<Classifier> model;
  std::shared_ptr<torch::optim::Optimizer> optimizer;
  std::vector<std::string> group_names;
  std::vector<std::shared_ptr<Regularization>> regularizations;
  std::vector<PluginUse> plugins;
  std::optional<std::int64_t> parent_run_id;
};

struct Resolved {
  std::string path;
  std::optional<std::int64_t> run_id;
};

class RunBuilder {
 public:
  /// Without a store (a data-parallel follower), backbone weights are not read: rank 0 sends its weights once
  /// the model is built.
  RunBuilder(PluginCatalog& catalog, ResultsStore* store, const std::map<std::string, std::int64_t>& stage_runs)
      : catalog_(catalog), store_(store), stage_runs_(stage_runs) {}

  /// What a build is for. A later stage is built twice: checked before the first stage trains (its `stage:`
  /// weights do not exist yet, other weights are only checked to exist), then built for training once its turn
  /// comes (already checked: no second shape check or optimizer probe, so no repeated warnings).
  enum class Purpose { check_and_train, check_only, train_checked };

  BuiltRun build(const RunConfig& run, c10::Device device, Purpose purpose = Purpose::check_and_train) {
    // Unknown keys of every component are collected and reported together at the end.
    std::vector<std::string> key_errors;
    catalog_.collect_key_errors(&key_errors);
    struct Restore {
      PluginCatalog& catalog;
      ~Restore() { catalog.collect_key_errors(nullptr); }
    } restore{catalog_};
    BuiltRun built = build_components(run, device, purpose);
    // The optimizer is built more than once (its probe), each build reporting the same keys: say each once.
    std::vector<std::string> distinct;
    for (const auto& error : key_errors) {
      if (std::find(distinct.begin(), distinct.end(), error) == distinct.end()) distinct.push_back(error);
    }
    if (!distinct.empty()) throw ConfigError(fmt::format("{}", fmt::join(distinct, "\n")));
    return built;
  }

 private:
  BuiltRun build_components(const RunConfig& run, c10::Device device, Purpose purpose) {
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
    check_dataset_info(built.info, *built.task, run);
    check_monitor(*built.task, run);

    log::ComponentLogger backbone_log("backbone:" + run.backbone.type);
    const bool per_token = built.task->feature_shape() == FeatureShape::per_token;
    auto backbone = catalog_.make_backbone(run.backbone.type, run.backbone.params,
                                           {built.info.input, backbone_log, built.info.text, per_token});
    check_tensor_names(built.info, *backbone, *built.task, run);
    log::ComponentLogger head_log("head:" + run.head.type);
    auto head = catalog_.make_head(run.head.type, run.head.params,
                                   {backbone->feature_size(), built.task->num_outputs(), head_log});
    built.model = std::make_shared<Classifier>(backbone, head);

    if (check) check_outputs(*built.model, *built.dataset->train(), *built.task, run);
    const bool from_stage = run.backbone.weights.rfind("stage:", 0) == 0;
    if (!run.backbone.weights.empty() && (load_weights || !from_stage) && store_) {
      const Resolved weights = resolve_weights(run);
      built.parent_run_id = weights.run_id;
      if (load_weights) load_backbone_weights(*built.model, load_tensors(weights.path), weights.path, backbone_log);
    }
    if (!run.backbone.freeze.empty()) {
      const auto frozen = built.model->freeze(run.backbone.freeze);
      backbone_log.info(fmt::format("froze {} tensors ({})", frozen, fmt::join(run.backbone.freeze, ", ")));
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
    if (run.backbone.lr_mult == 0) {
      // lr_mult = 0 means a fixed backbone: freeze it instead of stepping it with a zero learning rate.
      for (auto& p : built.model->backbone().parameters()) p.set_requires_grad(false);
    }
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
  static std::vector<ParamGroupSpec> backbone_groups(Backbone& backbone, const BackboneConfig& config) {
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

  Resolved resolve_weights(const RunConfig& run) {
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

  PluginCatalog& catalog_;
  ResultsStore* store_;
  const std::map<std::string, std::int64_t>& stage_runs_;
};

}  // namespace

void load_plugins(PluginCatalog& catalog, const ExperimentPlan& plan) {
  for (const auto& file : plan.plugin_files) catalog.load_file(file);
  for (const auto& folder : plugin_search_path(plan.plugin_paths)) {
    for (const auto& failure : catalog.load_folder(folder)) log::debug("plugin not loaded: " + failure);
  }
  // The first library on the search path wins a component name; say so when it shadows another.
  for (const auto& conflict : catalog.conflicts()) log::warn("plugin not loaded, its name is taken: " + conflict);
}

namespace {

TrainerSetup trainer_setup(const RunConfig& run, BuiltRun& built, c10::Device device,
                           std::optional<TrainingState> resume, ProcessGroup* group) {
  TrainerSetup setup;
  setup.model = built.model.get();
  setup.task = built.task.get();
  setup.optimizer = built.optimizer.get();
  setup.group_names = built.group_names;
  setup.regularizations = built.regularizations;
  setup.info = built.info;
  setup.train = built.dataset->train();
  setup.validation = built.dataset->validation();
  setup.test = built.dataset->test();
  setup.config = run.train;
  setup.augment = run.augment;
  setup.schedule = run.schedule;
  setup.device = device;
  setup.precision = run.precision;
  setup.channels_last = run.channels_last;
  setup.seed = run.seed;
  setup.resume = std::move(resume);
  setup.group = group;
  // The dataset's examples follow from its plugin, parameters and seed (the split it draws, the classes it keeps).
  setup.data_identity = fmt::format("dataset {}|seed {}", run.dataset.type, run.seed);
  for (const auto& key : run.dataset.params.keys()) {
    setup.data_identity += fmt::format("|{}={}", key, to_toml_value(*run.dataset.params.find(key)));
  }
  return setup;
}

// Trains a run already recorded in the store, and closes it as completed, pruned, interrupted, diverged or
// failed. Returns why it was pruned, or nothing.
std::optional<std::string> train_recorded_run(ResultsStore& store, std::int64_t run_id, const RunConfig& run,
                                              BuiltRun& built, c10::Device device, std::optional<TrainingState> resume,
                                              const RunHooks& hooks = {}, ProcessGroup* group = nullptr) {
  TrainerSetup setup = trainer_setup(run, built, device, std::move(resume), group);
  setup.checkpoint_dir = (fs::path(store.checkpoint_dir()) / fmt::format("run-{}", run_id)).string();
  setup.feature_cache_dir = (fs::path(store.checkpoint_dir()) / "feature-cache").string();
  // Rows a failed store write could not record are kept and written with the run's closing, so a store that
  // was locked or full for a while loses nothing it can still take.
  std::vector<MetricRow> unsaved;
  setup.record = [&](const std::vector<MetricRow>& rows) {
    unsaved.insert(unsaved.end(), rows.begin(), rows.end());
    store.log_metrics(run_id, unsaved);
    unsaved.clear();
  };
  setup.on_checkpoint = [&](const std::string& path) { store.set_checkpoint(run_id, path); };
  if (hooks.prune) setup.prune = [&](std::int64_t epoch) { return hooks.prune(run_id, run, epoch); };
  setup.after_step = hooks.after_step;
  // Closing the run is itself a store write; when even that fails, the error says both what stopped the run
  // and why it could not be recorded (the run stays "running" until a later ftrun finds its process gone).
  auto close = [&](RunStatus status, const std::string& error) {
    try {
      store.finish_run(run_id, status, error, unsaved);
    } catch (const StoreError& store_error) {
      throw StoreError(fmt::format("{}\nrun {} could not be recorded as {}: {}", error, run_id, to_string(status),
                                   store_error.what()));
    }
  };
  try {
    Trainer(std::move(setup)).fit();
  } catch (const Pruned& e) {
    close(RunStatus::pruned, e.what());
    log::info(fmt::format("run {} pruned", run_id));
    return std::string(e.what());
  } catch (const Interrupted& e) {
    close(RunStatus::interrupted, e.what());
    log::warn(fmt::format("run {} interrupted: {} (continue it with: ftrun resume {})", run_id, e.what(), run_id));
    throw;
  } catch (const Diverged& e) {
    close(RunStatus::diverged, e.what());
    log::error(fmt::format("run {} diverged", run_id));
    throw;
  } catch (const StoreError& e) {
    // Said before closing, which waits for the store longer than any other write.
    log::error(fmt::format("run {} stopped: {}; closing it as failed", run_id, e.what()));
    close(RunStatus::failed, e.what());
    throw;
  } catch (const LostProcess& e) {
    // Another process of the run died, was killed or stopped answering.
    close(RunStatus::failed, e.what());
    log::error(fmt::format("run {} failed: {}", run_id, e.what()));
    throw;
  } catch (const c10::Error& e) {
    // LibTorch's own message carries a C++ backtrace: the store keeps the message alone.
    const std::string message = e.what_without_backtrace();
    close(RunStatus::failed, message);
    log::error(fmt::format("run {} failed", run_id));
    throw Error("LibTorch: " + message);
  } catch (const std::exception& e) {
    close(RunStatus::failed, e.what());
    log::error(fmt::format("run {} failed", run_id));
    throw;
  } catch (...) {
    close(RunStatus::failed, "a plugin threw something that is not a std::exception");
    throw PluginError(fmt::format("run {} failed: a plugin threw something that is not a std::exception", run_id));
  }
  close(RunStatus::completed, "");
  log::info(fmt::format("run {} completed", run_id));
  return std::nullopt;
}

// A data-parallel follower trains the leader's run in step with it and records nothing: the leader closes the
// run, whatever ends it.
void train_as_follower(const RunConfig& run, BuiltRun& built, c10::Device device, std::optional<TrainingState> resume,
                       ProcessGroup& group) {
  try {
    Trainer(trainer_setup(run, built, device, std::move(resume), &group)).fit();
  } catch (const c10::Error& e) {
    throw Error(std::string("LibTorch: ") + e.what_without_backtrace());
  }
}

// Every process must start from the leader's weights, and must have built the same model to receive them:
// the shapes are compared first (a mismatch would otherwise hang or garble the broadcast).
void join_model(ProcessGroup& group, Classifier& model) {
  std::string shapes;
  const TensorMap state = model.state();
  for (const auto& [name, tensor] : state) {
    shapes += fmt::format("{} [{}] {}\n", name, fmt::join(tensor.sizes(), ", "), std::string(tensor.dtype().name()));
  }
  const std::string leader_shapes = group.share_text("model", shapes);
  if (leader_shapes != shapes) {
    std::size_t at = 0;
    while (at < shapes.size() && at < leader_shapes.size() && shapes[at] == leader_shapes[at]) ++at;
    const auto line_start = shapes.rfind('\n', at == 0 ? 0 : at - 1);
    const auto from = line_start == std::string::npos || at == 0 ? 0 : line_start + 1;
    throw ConfigError(
        fmt::format("rank {} built another model than rank 0 (first difference near: {}): every "
                    "process must run the same experiment with the same plugins",
                    group.rank(), shapes.substr(from, shapes.find('\n', from) - from)));
  }
  std::vector<torch::Tensor> tensors;
  for (const auto& [name, tensor] : state) tensors.push_back(tensor);
  group.broadcast(tensors);
}

// Rethrows `first`'s kind of error with `message`, so the exit code still says what went wrong.
[[noreturn]] void throw_like(const std::exception_ptr& first, const std::string& message) {
  try {
    std::rethrow_exception(first);
  } catch (const ConfigError&) {
    throw ConfigError(message);
  } catch (const DataError&) {
    throw DataError(message);
  } catch (const PluginError&) {
    throw PluginError(message);
  } catch (const StoreError&) {
    throw StoreError(message);
  } catch (...) {
    throw Error(message);
  }
}

// Calls `build(i, run)` for every run of the plan, collecting every problem (each named by its stage), then throws
// them together as the first one's kind of error: all of a plan's mistakes are reported at once.
template <class Build>
void build_every_run(const ExperimentPlan& plan, Build&& build) {
  std::vector<std::string> problems;
  std::exception_ptr first_problem;
  for (std::size_t i = 0; i < plan.runs.size(); ++i) {
    const RunConfig& run = plan.runs[i];
    try {
      build(i, run);
    } catch (const Error& e) {
      if (!first_problem) first_problem = std::current_exception();
      problems.push_back((plan.runs.size() > 1 ? "stage " + run.stage + ": " : std::string()) + e.what());
    }
  }
  if (!problems.empty()) throw_like(first_problem, fmt::format("{}", fmt::join(problems, "\n")));
}

}  // namespace

c10::Device Runner::device_for(const RunConfig& run) const {
  const c10::Device device =
      group_ ? distributed_device(run.device, group_->launch().local_rank) : resolve_device(run.device);
  if (run.train.cuda_graph && !device.is_cuda()) {
    throw ConfigError(
        fmt::format("train.cuda_graph = true needs a CUDA device; this run trains on {} (set it to false, or "
                    "device = \"cuda\")",
                    device.str()));
  }
  if (run.train.cuda_graph && group_) {
    // The gradient buckets' all-reduce is started from autograd hooks, which a captured graph would not rerun.
    throw ConfigError("train.cuda_graph works on one process only for now; set it to false under torchrun or srun");
  }
  return device;
}

int Runner::threads_for(const RunConfig& run) const {
  // Processes sharing a machine share its cores: by default each takes its part, not all of them.
  if (group_ && run.threads == 0) {
    return configure_threads(std::max(1, physical_core_count() / group_->launch().local_world_size));
  }
  return configure_threads(run.threads);
}

void Runner::check(const ExperimentPlan& plan) {
  std::map<std::string, std::int64_t> no_stage_runs;
  RunBuilder builder(catalog_, store_, no_stage_runs);
  build_every_run(plan, [&](std::size_t, const RunConfig& run) {
    builder.build(run, device_for(run), RunBuilder::Purpose::check_only);
  });
}

PlanResult Runner::run(const ExperimentPlan& plan, const RunHooks& hooks) {
  PlanResult result;
  result.group_id = plan.group_id.empty() ? make_group_id(plan.runs.front().name) : plan.group_id;
  std::map<std::string, std::int64_t> stage_runs;
  RunBuilder builder(catalog_, store_, stage_runs);

  // Every stage is built once before the first trains, so that a typo in a plugin key or missing data in the
  // last stage is reported now, with the problems of every other stage, not after hours of training. The first
  // stage's build is kept for its run; later stages are built again when their turn comes (their `stage:`
  // weights exist only then).
  std::optional<BuiltRun> first_built;
  at::Tensor generator_after_first;  // checking later stages draws random numbers the first run must not see
  build_every_run(plan, [&](std::size_t i, const RunConfig& run) {
    if (i == 0) torch::manual_seed(run.seed);  // the first run's initial weights come from its seed, as always
    BuiltRun built = builder.build(run, device_for(run),
                                   i == 0 ? RunBuilder::Purpose::check_and_train : RunBuilder::Purpose::check_only);
    if (i == 0) {
      first_built = std::move(built);
      generator_after_first = at::detail::getDefaultCPUGenerator().get_state();
    }
  });
  at::Generator default_generator = at::detail::getDefaultCPUGenerator();
  default_generator.set_state(generator_after_first);

  for (std::size_t i = 0; i < plan.runs.size(); ++i) {
    const RunConfig& run = plan.runs[i];
    const std::string title = run.stage.empty() ? run.name : run.name + " / " + run.stage;
    const c10::Device device = device_for(run);
    const int threads = threads_for(run);
    if (i > 0) torch::manual_seed(run.seed);
    const std::string where =
        group_ ? fmt::format(" (rank {} of {}, {})", group_->rank(), group_->world_size(), group_->backend_name())
               : std::string();
    log::info(
        fmt::format("run {}: device {}{}, {} CPU threads, seed {}", title, device.str(), where, threads, run.seed));

    BuiltRun built = i == 0 ? std::move(*first_built) : builder.build(run, device, RunBuilder::Purpose::train_checked);
    first_built.reset();
    if (group_) join_model(*group_, *built.model);
    if (!store_) {
      const std::string run_id = group_->share_text("run_id", "");
      log::info(fmt::format("rank {}: training run {} with rank 0", group_->rank(), run_id));
      train_as_follower(run, built, device, std::nullopt, *group_);
      continue;
    }
    RunConfig recorded = run;
    record_plugin_defaults(recorded);
    const std::int64_t world = group_ ? group_->world_size() : 1;
    recorded.flat_params.emplace_back("distributed.world_size", to_param_value(world));
    recorded.flat_params.emplace_back("train.global_batch_size",
                                      to_param_value(run.train.batch_size * run.train.accumulate * world));
    NewRun record{
        run.name, run.stage,    result.group_id, built.parent_run_id, plan.source_file,     recorded.resolved_toml,
        run.seed, device.str(), threads,         TORCH_VERSION,       recorded.flat_params, built.plugins};
    const MetricSpec primary = built.task->metrics().front();
    record.task = run.task.type;
    record.primary_metric = primary.name;
    record.primary_direction = primary.higher_is_better ? "max" : "min";
    const std::int64_t run_id = store_->begin_run(record);
    if (group_) group_->share_text("run_id", std::to_string(run_id));
    result.run_ids.push_back(run_id);
    if (!run.stage.empty()) stage_runs[run.stage] = run_id;
    const bool images = std::find(built.info.tensors.begin(), built.info.tensors.end(), tensor_names::kImages) !=
                        built.info.tensors.end();
    log::info(fmt::format("run {} started: {} train / {} validation {}, {} classes, task {}", run_id,
                          built.dataset->train()->size(),
                          built.dataset->validation() ? built.dataset->validation()->size() : 0,
                          images ? "images" : "examples", built.info.num_classes, run.task.type));
    if (auto pruned = train_recorded_run(*store_, run_id, run, built, device, std::nullopt, hooks, group_)) {
      result.pruned = std::move(pruned);
      break;  // a pruned stage's later stages would start from weights the pruner judged not worth finishing
    }
  }
  return result;
}

PlanResult Runner::resume(std::int64_t run_id, const ExperimentPlan& plan) {
  const RunConfig& run = plan.runs.front();
  const auto checkpoint = store_->checkpoint_of(run_id);
  if (!checkpoint) {
    throw ConfigError(
        fmt::format("run {} has no checkpoint to resume from: it stopped before its first epoch "
                    "ended; start it again instead",
                    run_id));
  }
  const TensorMap tensors = load_tensors(*checkpoint);
  auto state = find_training_state(tensors);
  if (!state) throw DataError(fmt::format("{} holds weights but no training state; it cannot be resumed", *checkpoint));

  const c10::Device device = device_for(run);
  const int threads = threads_for(run);
  torch::manual_seed(run.seed);
  log::info(fmt::format("resuming run {} ({}): device {}, {} CPU threads, from {}", run_id, run.name, device.str(),
                        threads, *checkpoint));
  std::map<std::string, std::int64_t> no_stages;
  RunBuilder builder(catalog_, store_, no_stages);
  BuiltRun built = builder.build(run, device);
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : built.model->state()) {
      auto saved = tensors.find(name);
      if (saved == tensors.end() || saved->second.sizes() != tensor.sizes()) {
        throw DataError(
            fmt::format("{}: {} is missing or has another shape; the checkpoint does not belong to "
                        "this run's model",
                        *checkpoint, name));
      }
      tensor.copy_(saved->second);
    }
  }
  check_world_size(run_id);
  if (!store_->claim_for_resume(run_id, state->epoch)) {
    throw ConfigError(fmt::format("run {} cannot be resumed: it is {} (another ftrun may have resumed it first)",
                                  run_id, store_->status_of(run_id).value_or("gone")));
  }
  if (group_) {
    // The other processes get the weights and the training state from here: only rank 0 reads the checkpoint.
    group_->share_text("run_id", std::to_string(run_id));
    join_model(*group_, *built.model);
    share_tensors(*group_, &state->tensors);
  }
  train_recorded_run(*store_, run_id, run, built, device, std::move(state), {}, group_);
  return {"", {run_id}};
}

void Runner::resume_follower(const ExperimentPlan& plan) {
  const RunConfig& run = plan.runs.front();
  const c10::Device device = device_for(run);
  threads_for(run);
  torch::manual_seed(run.seed);
  std::map<std::string, std::int64_t> no_stages;
  RunBuilder builder(catalog_, nullptr, no_stages);
  BuiltRun built = builder.build(run, device);
  const std::string run_id = group_->share_text("run_id", "");
  log::info(fmt::format("rank {}: resuming run {} with rank 0", group_->rank(), run_id));
  join_model(*group_, *built.model);
  auto state = find_training_state(share_tensors(*group_, nullptr));
  if (!state) throw DataError("rank 0 sent no training state to resume from");
  train_as_follower(run, built, device, std::move(state), *group_);
}

void Runner::check_world_size(std::int64_t run_id) const {
  std::int64_t recorded = 1;
  for (const auto& [key, value] : store_->params_of(run_id)) {
    if (key == "distributed.world_size") recorded = std::stoll(value);
  }
  const std::int64_t now = group_ ? group_->world_size() : 1;
  if (recorded != now) {
    throw ConfigError(fmt::format(
        "run {} was trained on {} process(es); resume it on as many (this is {}): the data order, the batch "
        "and the learning rate's meaning depend on it{}",
        run_id, recorded, now,
        recorded > 1 ? fmt::format(" (torchrun --nproc-per-node {} --no-python ftrun resume {})", recorded, run_id)
                     : std::string()));
  }
}

}  // namespace ft
