#include "runner/runner.h"

#include "distributed/process_group.h"
#include "distributed/share_tensors.h"
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "model/checkpoint.h"
#include "model/device.h"
#include "model/model.h"
#include "model/training_state.h"
#include "runner/run_builder.h"
#include "runner/run_training.h"
#include "store/results_store.h"

#include <ftsdk/version.h>

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>

namespace ft {
namespace {

std::string make_group_id(const std::string& name) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return fmt::format("{}-{:x}-{:x}", name, std::chrono::duration_cast<std::chrono::milliseconds>(now).count(),
                     ::getpid());
}

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
  } catch (const ResourceError&) {
    throw ResourceError(message);
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
  if (group_ && run.threads == 0) return configure_threads(default_thread_count(group_->launch().local_world_size));
  return configure_threads(run.threads);
}

std::string Runner::check(const ExperimentPlan& plan) {
  std::map<std::string, std::int64_t> no_stage_runs;
  RunBuilder builder(catalog_, store_, no_stage_runs);
  std::string direction;
  build_every_run(plan, [&](std::size_t i, const RunConfig& run) {
    const BuiltRun built = builder.build(run, device_for(run), RunBuilder::Purpose::check_only);
    if (i == 0) direction = built.task->metrics().front().higher_is_better ? "max" : "min";
  });
  return direction;
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
    record.default_keys = recorded.default_keys;
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
  return {"", {run_id}, std::nullopt};
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
