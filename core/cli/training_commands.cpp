// The commands that need LibTorch, built as libftrun_training.so and loaded by the ftrun front end only when
// one of them is asked for (training_request.h says why).
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/query_commands.h"
#include "cli/training_request.h"
#include "cli/trial_proposer.h"

#include "config/experiment.h"
#include "config/sweep.h"
#include "distributed/process_group.h"
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "log/printable.h"
#include "model/device.h"
#include "model/memory.h"
#include "runner/allocator.h"
#include "runner/input_speed.h"
#include "runner/runner.h"
#include "runner/trainer.h"
#include "sampling/builtin_samplers.h"
#include "store/results_store.h"
#include "training/launch_environment.h"
#include "training/lr_range.h"
#include "training/signals.h"

#include <c10/util/Exception.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace ft {
namespace {

// A worker says it is alive every tenth of $FTRUN_TRIAL_STALE (default 300 s: every 30 s); a trial whose worker was
// silent for longer is put back. On the worker's own host a dead process is noticed at once (its pid is gone).
std::chrono::seconds heartbeat_period(const StoreOptions& options) {
  return std::max(std::chrono::seconds(1), options.trial_stale / 10);
}

void print_group_runs(ResultsStore& store, const std::string& group_id) {
  RunFilter filter;
  filter.group_id = group_id;
  std::printf("\nRuns of this experiment (store %s):\n", store.path().c_str());
  auto runs = store.list_runs(filter);
  std::reverse(runs.begin(), runs.end());
  print_runs(runs);
}

// The run `run_id` if it can be resumed, else a ConfigError saying why.
ResultsStore::StoredRun resumable_run(ResultsStore& store, std::int64_t run_id) {
  const auto stored = store.find_run(run_id);
  if (!stored) throw ConfigError("no run " + std::to_string(run_id) + " in " + store.path() + " (see ftrun runs)");
  if (stored->status == "completed") {
    throw ConfigError("run " + std::to_string(run_id) + " is completed: there is nothing to resume");
  }
  if (stored->status == "running") {
    throw ConfigError("run " + std::to_string(run_id) + " is still running in another process");
  }
  return *stored;
}

std::chrono::milliseconds timeout_of(const RunConfig& run) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(run.distributed.timeout * 1000));
}

void connect(ProcessGroup& group, const RunConfig& run) {
  group.connect(distributed_device(run.device, group.launch().local_rank), run.distributed.backend, timeout_of(run));
  const auto& launch = group.launch();
  log::info(fmt::format("joined {} processes ({}, {}) at {}:{}", launch.world_size, launch.launcher,
                        group.backend_name(), launch.master_addr, launch.master_port));
}

// Resumes run `run_id` on every process of `group`: rank 0 (with the store) checks it and sends its resolved
// experiment to the others, which need neither the store nor the checkpoint (rank 0 sends the weights too).
void resume_in_group(ProcessGroup& group, ResultsStore* store, std::int64_t run_id, PluginCatalog& catalog) {
  std::string text;
  if (store) {
    try {
      text = resumable_run(*store, run_id).config_toml;
    } catch (const ConfigError& e) {
      group.share_text("resume", std::string("!") + e.what());  // the others stop with the same message
      throw;
    }
  }
  text = group.share_text("resume", text);
  if (text.rfind('!', 0) == 0) throw ConfigError(text.substr(1));
  const ExperimentPlan plan = parse_resolved_run(text, "run " + std::to_string(run_id));
  if (!group.connected()) connect(group, plan.runs.front());
  load_plugins(catalog, plan);
  install_stop_handlers();
  if (store) {
    Runner(catalog, group, store).resume(run_id, plan);
  } else {
    Runner(catalog, group, nullptr).resume_follower(plan);
  }
}

// After torchrun restarted the group (TORCHELASTIC_RESTART_COUNT > 0), the run this launch left unfinished, if
// it has a checkpoint: it is resumed instead of started again. Launches are told apart by torchrun's run id.
std::optional<std::int64_t> run_to_continue(ResultsStore& store, const ExperimentPlan& plan) {
  if (plan.runs.size() > 1) {
    log::warn("restarted: a staged experiment starts again (only single-run experiments resume by themselves)");
    return std::nullopt;
  }
  RunFilter filter;
  filter.group_id = plan.group_id;
  for (const auto& run : store.list_runs(filter)) {  // newest first
    if (run.status == "completed") return std::nullopt;
    if (store.checkpoint_of(run.id)) return run.id;
  }
  return std::nullopt;
}

// Sets this process's log up for its place in a launch and, on rank 0 only, opens the store: before joining the
// others, so a store that cannot be used stops the launch before anything trains.
std::unique_ptr<ResultsStore> join_as_process(const LaunchEnvironment& launch, const std::string& store_path,
                                              bool verbose) {
  log::configure_process(fmt::format("rank {}/{}", launch.rank, launch.world_size), launch.rank == 0, verbose);
  if (launch.rank != 0) return nullptr;
  auto store = std::make_unique<ResultsStore>(store_path, store_options_from_environment());
  store->close_abandoned_runs();
  return store;
}

// One process of a data-parallel launch (torchrun, srun): every process reads the experiment and builds the
// runs; rank 0 alone opens the store, records and writes checkpoints (docs/distributed.md).
int command_run_distributed(const TrainingRequest& options, ExperimentPlan plan, const LaunchEnvironment& launch,
                            PluginCatalog& catalog) {
  const bool leader = launch.rank == 0;
  const std::unique_ptr<ResultsStore> store =
      join_as_process(launch, resolve_store_path(options.store, plan.store_path), options.verbose);
  const RunConfig& first = plan.runs.front();
  // A launch with an id keeps one group of runs across torchrun's restarts, so a restart finds its run.
  const bool named_launch = !launch.launch_id.empty() && launch.launch_id != "none";
  if (named_launch && plan.group_id.empty()) plan.group_id = first.name + "-" + launch.launch_id;
  ProcessGroup group(launch, timeout_of(first));
  if (launch.restart_count > 0) {
    std::string decision;
    if (leader && !named_launch) {
      log::warn(
          "restarted, but this launch has no id to find its run by: starting again (give torchrun --rdzv-id, "
          "or --standalone)");
    }
    if (leader && named_launch) {
      if (const auto run_id = run_to_continue(*store, plan)) decision = std::to_string(*run_id);
    }
    decision = group.share_text("restart", decision);
    if (!decision.empty()) {
      log::info(fmt::format("restart {}: resuming run {} from its last checkpoint", launch.restart_count, decision));
      resume_in_group(group, store.get(), std::stoll(decision), catalog);
      if (store) print_group_runs(*store, plan.group_id);
      return kExitOk;
    }
  }
  connect(group, first);
  load_plugins(catalog, plan);
  install_stop_handlers();
  Runner runner(catalog, group, store.get());
  const PlanResult result = runner.run(plan);
  if (store) print_group_runs(*store, result.group_id);
  return kExitOk;
}

// `ftrun resume ID` under torchrun or srun: the run continues on as many processes as it was trained on.
int command_resume_distributed(std::int64_t run_id, const std::string& store_path, const LaunchEnvironment& launch,
                               bool verbose, PluginCatalog& catalog) {
  const std::unique_ptr<ResultsStore> store = join_as_process(launch, resolve_store_path(store_path, ""), verbose);
  // The run's own timeout is known only once rank 0 has read it: PyTorch's default for meeting the others,
  // the run's for its collectives (connect).
  ProcessGroup group(launch, std::chrono::minutes(30));
  resume_in_group(group, store.get(), run_id, catalog);
  if (store) {
    RunFilter filter;
    filter.id = run_id;
    print_runs(store->list_runs(filter));
  }
  return kExitOk;
}

int command_run(const TrainingRequest& options, PluginCatalog& catalog) {
  ExperimentPlan plan = load_experiment(options.experiment, options.overrides);
  if (plan.has_sweep) {
    throw ConfigError(options.experiment + ": this file defines a [sweep]: run its trials with `ftrun sweep " +
                      options.experiment + "` (docs/sweeps.md)");
  }
  if (options.dry_run) {
    for (const auto& run : plan.runs) {
      std::printf("# run: %s%s\n%s\n\n", run.name.c_str(), run.stage.empty() ? "" : (" / stage " + run.stage).c_str(),
                  run.resolved_toml.c_str());
    }
    return kExitOk;
  }
  if (const auto launch = launch_environment()) return command_run_distributed(options, plan, *launch, catalog);
  ResultsStore store(resolve_store_path(options.store, plan.store_path), store_options_from_environment());
  store.close_abandoned_runs();
  load_plugins(catalog, plan);
  install_stop_handlers();
  Runner runner(catalog, store);
  const PlanResult result = runner.run(plan);
  print_group_runs(store, result.group_id);
  return kExitOk;
}

int command_resume(std::int64_t run_id, const std::string& store_path, bool verbose, PluginCatalog& catalog) {
  if (const auto launch = launch_environment()) {
    return command_resume_distributed(run_id, store_path, *launch, verbose, catalog);
  }
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  store.close_abandoned_runs();
  const auto stored = resumable_run(store, run_id);
  const ExperimentPlan plan = parse_resolved_run(stored.config_toml, "run " + std::to_string(run_id));
  load_plugins(catalog, plan);
  install_stop_handlers();
  Runner(catalog, store).resume(run_id, plan);
  RunFilter filter;
  filter.id = run_id;
  print_runs(store.list_runs(filter));
  return kExitOk;
}

int command_plugins(const std::vector<std::string>& files, PluginCatalog& catalog) {
  ExperimentPlan plan;
  plan.plugin_files = files;
  load_plugins(catalog, plan);
  for (const auto& plugin_kind : plugin_kinds()) {
    const std::string& kind = plugin_kind.name;
    for (const auto& type : catalog.types(kind)) {
      const auto origin = catalog.origin(kind, type);
      std::printf("%-15s %-18s %s %s  %s\n", kind.c_str(), type.c_str(), origin.plugin->name.c_str(),
                  origin.plugin->version.c_str(), origin.plugin->path.c_str());
    }
  }
  for (const auto& failure : catalog.failures()) std::printf("not loaded: %s\n", failure.c_str());
  return kExitOk;
}

// Tells the store every `period` that this process still works on its trial, over a connection of its own (the
// trainer's connection is busy with the run's own writes), until destroyed.
class Heartbeat {
 public:
  Heartbeat(const std::string& store_path, std::int64_t sweep_id, std::chrono::seconds period)
      : store_(store_path, store_options_from_environment()), sweep_id_(sweep_id), period_(period) {
    thread_ = std::thread([this] { beat(); });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void set_trial(std::optional<std::int64_t> trial) {
    std::lock_guard<std::mutex> lock(mutex_);
    trial_ = trial;
  }

 private:
  void beat() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
      if (!trial_) continue;
      const std::int64_t trial = *trial_;
      lock.unlock();
      try {
        store_.heartbeat_trial(sweep_id_, trial);
      } catch (const StoreError& e) {
        log::warn(std::string("sweep heartbeat not recorded: ") + e.what());
      }
      lock.lock();
    }
  }

  ResultsStore store_;
  std::int64_t sweep_id_;
  std::chrono::seconds period_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::optional<std::int64_t> trial_;
  std::thread thread_;
};

// The sweep's sampler: built in (grid, random, tpe), or a sampler plugin's by the name `method` gives.
std::shared_ptr<Sampler> sweep_sampler(const SweepConfig& config, bool minimize, PluginCatalog& catalog) {
  if (auto builtin = make_builtin_sweep_sampler(config, minimize)) return builtin;
  const auto types = catalog.types("sampler");
  if (std::find(types.begin(), types.end(), config.method) == types.end()) {
    std::string message =
        config.method_where.str() + ": [sweep] method = \"" + config.method +
        "\": no such sampler; built in: " + fmt::format("{}", fmt::join(builtin_sampler_names(), ", ")) +
        "; from plugins: " + (types.empty() ? std::string("none") : fmt::format("{}", fmt::join(types, ", "))) +
        " (a sampler plugin is loaded like any other: docs/plugins.md)";
    for (const auto& failure : catalog.failures()) message += "\n  not loaded, may provide it: " + failure;
    throw ConfigError(message);
  }
  return catalog.make_sampler(config.method, config.sampler, sampler_context(config, minimize));
}

// Checks a sweep before it is recorded: its first trial is built as a run would be (plugin keys included, so a
// typo in a swept key is found with its position and the nearest key), and the rest are read.
int command_check_sweep(const TrainingRequest& request, PluginCatalog& catalog) {
  const SweepPlan sweep = load_sweep(request.experiment, request.overrides);
  const ExperimentPlan plan = trial_plan(sweep, sweep.check_trial);
  ResultsStore store(resolve_store_path(request.store, plan.store_path), store_options_from_environment());
  load_plugins(catalog, plan);
  const std::string direction = Runner(catalog, store).check(plan);
  // The sampler too: its parameters and, for a plugin's, that it is loaded.
  sweep_sampler(sweep.config, (sweep.config.direction.empty() ? direction : sweep.config.direction) == "min", catalog);
  if (request.primary_direction) *request.primary_direction = direction;
  return kExitOk;
}

// The run of `plan` named by --stage, or its first.
RunConfig chosen_stage(const ExperimentPlan& plan, const TrainingRequest& request) {
  const RunConfig* chosen = &plan.runs.front();
  std::vector<std::string> stages;
  for (const auto& run : plan.runs) {
    stages.push_back(run.stage);
    if (!request.stage.empty() && run.stage == request.stage) chosen = &run;
  }
  if (!request.stage.empty() && chosen->stage != request.stage) {
    throw ConfigError(request.experiment + ": no stage named '" + request.stage +
                      "' (stages: " + fmt::format("{}", fmt::join(stages, ", ")) + ")");
  }
  return *chosen;
}

// Reads the training split as training would, without the model, and says how fast.
int command_input_speed(const TrainingRequest& request, PluginCatalog& catalog) {
  if (request.epochs < 1 || request.epochs > 1000) throw ConfigError("--epochs must be between 1 and 1000");
  const ExperimentPlan plan = load_experiment(request.experiment, request.overrides);
  const RunConfig run = chosen_stage(plan, request);
  load_plugins(catalog, plan);
  const auto speeds = measure_input_speed(catalog, run, request.epochs);
  std::printf("%-6s %8s %9s %9s\n", "epoch", "images", "seconds", "images/s");
  for (std::size_t i = 0; i < speeds.size(); ++i) {
    std::printf("%-6zu %8lld %9.2f %9.1f\n", i + 1, static_cast<long long>(speeds[i].images), speeds[i].seconds,
                speeds[i].images / speeds[i].seconds);
  }
  std::printf("loader threads %lld, batch size %lld, %d compute threads\n",
              static_cast<long long>(run.train.loader_threads), static_cast<long long>(run.train.batch_size),
              configure_threads(run.threads));
  return kExitOk;
}

// The learning-rate range test: the experiment's real model, data, batch size, precision and parameter groups,
// trained for a few steps while every group's rate rises exponentially (the head's from --start to --end), until
// the smoothed loss exceeds --stop-factor times its minimum. Recorded as a run of stage lr_find with its
// suggestions; the experiment's own runs and weights are not touched.
int command_lr_find(const TrainingRequest& request, PluginCatalog& catalog) {
  if (!(request.lr_start > 0 && request.lr_start < request.lr_end)) {
    throw ConfigError("lr-find needs 0 < --start < --end");
  }
  if (request.lr_steps < 5 || request.lr_steps > 100000) throw ConfigError("--steps must be between 5 and 100000");
  if (!(request.smoothing >= 0 && request.smoothing < 1)) throw ConfigError("--smoothing must be in [0, 1)");
  if (!(request.stop_factor > 1)) throw ConfigError("--stop-factor must be above 1");
  ExperimentPlan plan = load_experiment(request.experiment, request.overrides);
  RunConfig run = chosen_stage(plan, request);
  if (run.backbone.weights.rfind("stage:", 0) == 0) {
    throw ConfigError(request.experiment + ": stage " + run.stage + " starts from " + run.backbone.weights +
                      ", which exists only once that stage has trained: run the experiment, then lr-find with "
                      "--set stage." +
                      run.stage + ".backbone.weights=run:ID (the earlier stage's run)");
  }
  const auto base = run.optimizer.params.optional<double>("lr");
  if (!base || *base <= 0) throw ConfigError("lr-find needs the optimizer's lr (the head's base rate) to scale from");
  const std::string tested = run.stage.empty() ? run.name : run.name + " / " + run.stage;
  run.stage = "lr_find";
  run.schedule = ScheduleConfig{};
  run.schedule.type = "lr_range";
  run.schedule.range_start = request.lr_start / *base;
  run.schedule.range_end = request.lr_end / *base;
  run.schedule.range_steps = request.lr_steps;
  run.train.epochs = request.lr_steps;  // a bound: the test stops by steps
  run.train.eval_every = request.lr_steps + 1;
  run.train.test = false;
  run.train.patience = 0;
  run.train.accumulate = 1;
  plan.runs = {run};
  ResultsStore store(resolve_store_path(request.store, plan.store_path), store_options_from_environment());
  store.close_abandoned_runs();
  load_plugins(catalog, plan);
  install_stop_handlers();
  LrRangeMonitor monitor(request.smoothing, request.stop_factor);
  RunHooks hooks;
  hooks.after_step = [&](std::int64_t step, double loss) { return monitor.add(loss) || step >= request.lr_steps; };
  log::info(fmt::format("lr-find on {}: head rate from {:g} to {:g} over {} steps", tested, request.lr_start,
                        request.lr_end, request.lr_steps));
  const std::int64_t run_id = Runner(catalog, store).run(plan, hooks).run_ids.back();

  // The monitor smoothed each step's loss as it came; the rates the steps were given are in the store.
  const std::vector<double>& smoothed = monitor.smoothed();
  std::vector<double> lrs;
  for (const auto& row : store.metrics_of(run_id)) {
    if (row.scope == "step" && row.name == "lr/head") lrs.push_back(row.value);
  }
  lrs.resize(std::min(lrs.size(), smoothed.size()));
  const LrSuggestions suggestions = suggest_learning_rates(lrs, smoothed);
  std::vector<MetricRow> rows;
  for (std::size_t i = 0; i < smoothed.size(); ++i) {
    rows.push_back({"step", 1, static_cast<std::int64_t>(i + 1), "lr_find_smoothed_loss", smoothed[i]});
  }
  auto record = [&](const char* name, const std::optional<double>& value) {
    if (value) rows.push_back({"final", 1, static_cast<std::int64_t>(smoothed.size()), name, *value});
  };
  record("suggested_lr_steepest", suggestions.steepest);
  record("suggested_lr_minimum_over_10", suggestions.minimum_over_10);
  record("suggested_lr_valley", suggestions.valley);
  store.add_analysis(run_id, rows);

  std::printf("\nlr-find on %s (run %lld, %zu steps): smoothed training loss against the head's learning rate\n\n%s\n",
              tested.c_str(), static_cast<long long>(run_id), smoothed.size(), text_plot(lrs, smoothed).c_str());
  auto line = [](const char* rule, const std::optional<double>& value) {
    std::printf("  %-14s %s\n", rule, value ? fmt::format("{:.3g}", *value).c_str() : "-");
  };
  line("valley", suggestions.valley);
  line("steepest", suggestions.steepest);
  line("minimum / 10", suggestions.minimum_over_10);
  std::printf(
      "\nrecommended: %s\n(the head's rate; with lr_mult or layer_decay the backbone's groups keep their ratio to "
      "it. Draw it: ftrun plot %lld -o lr_find.svg)\n",
      suggestions.recommendation.c_str(), static_cast<long long>(run_id));
  return kExitOk;
}

// A worker of a sweep: takes trials from the store one at a time until none is left (docs/sweeps.md).
int command_sweep_worker(const TrainingRequest& request, PluginCatalog& catalog) {
  ResultsStore store(resolve_store_path(request.store, ""), store_options_from_environment());
  store.close_abandoned_runs();
  const auto stored = store.find_sweep(request.sweep_id);
  if (!stored) {
    throw ConfigError("no sweep " + std::to_string(request.sweep_id) + " in " + store.path() +
                      " (see ftrun sweep status)");
  }
  // The trials are those the store recorded: the sweep is read from its stored text, not from the file, which may
  // have changed since.
  const SweepPlan sweep = parse_sweep(stored->definition, stored->experiment_file, stored->overrides);
  load_plugins(catalog, trial_plan(sweep, sweep.check_trial));
  const auto sampler = sweep_sampler(sweep.config, stored->direction == "min", catalog);
  const TrialProposer propose = proposes_as_it_goes(sweep.config) ? trial_proposer(sweep, *sampler) : TrialProposer();
  install_stop_handlers();
  Heartbeat heartbeat(store.path(), request.sweep_id, heartbeat_period(store.options()));
  int ran = 0;
  while (!stop_requested()) {
    const auto number = store.claim_trial(request.sweep_id, store.options().trial_stale, propose);
    if (!number) break;
    const SweepTrial trial = stored_trial(sweep, store.trials_of(request.sweep_id), *number);
    ExperimentPlan plan = trial_plan(sweep, trial);
    plan.group_id = sweep_group(request.sweep_id);
    for (auto& run : plan.runs) {
      if (request.threads > 0) run.threads = request.threads;
      // Each trial's runs say which sweep and trial they are, among their parameters.
      run.flat_params.emplace_back("sweep.id", to_param_value(request.sweep_id));
      run.flat_params.emplace_back("sweep.trial", to_param_value(*number));
    }
    log::info(fmt::format("sweep {}: trial {} (pid {}): {}", request.sweep_id, *number, ::getpid(),
                          one_line(trial_values_text(trial))));
    heartbeat.set_trial(number);
    struct Clear {
      Heartbeat& heartbeat;
      ~Clear() { heartbeat.set_trial(std::nullopt); }
    } clear{heartbeat};
    RunHooks hooks;
    if (sweep.config.pruner.type != "none") {
      hooks.prune = [&](std::int64_t run_id, const RunConfig& run, std::int64_t epoch) {
        return store.prune_decision(sweep.config.pruner, plan.group_id, run.stage, run_id, epoch, sweep.config.metric,
                                    stored->direction);
      };
    }
    try {
      const PlanResult result = Runner(catalog, store).run(plan, hooks);
      if (!store.finish_trial(request.sweep_id, *number, result.pruned ? "pruned" : "completed", result.run_ids.back(),
                              result.pruned.value_or(""))) {
        log::warn(
            fmt::format("sweep {}: trial {} was given to another worker while this one was silent (no "
                        "heartbeat for {} s); its run {} stays recorded, but not as the trial's result",
                        request.sweep_id, *number, store.options().trial_stale.count(), result.run_ids.back()));
      }
    } catch (const Interrupted&) {
      store.release_trial(request.sweep_id, *number);  // Ctrl-C is not the trial's fault: it runs again
      throw;
    } catch (const ConfigError& e) {
      // The sweep was checked with its first trial: this trial's own values are at fault (a rate a plugin
      // refuses, say). Another attempt would fail the same way.
      store.finish_trial(request.sweep_id, *number, "failed", std::nullopt, e.what());
    } catch (const PluginError&) {
      store.release_trial(request.sweep_id, *number);
      throw;
    } catch (const DataError&) {
      store.release_trial(request.sweep_id, *number);
      throw;
    } catch (const RunNotHeld& e) {
      // This worker was silent long enough for its trial to go to another; the store refused its rows. The trial
      // is not this worker's to close: it goes on with the next one.
      log::warn(fmt::format("sweep {}: trial {} was given to another worker while this one was silent: {}",
                            request.sweep_id, *number, e.what()));
    } catch (const StoreError&) {
      throw;  // left running: the next worker to look finds this process gone and puts the trial back
    } catch (const Diverged& e) {
      store.finish_trial(request.sweep_id, *number, "failed", std::nullopt, std::string("diverged: ") + e.what());
    } catch (const c10::Error& e) {
      store.finish_trial(request.sweep_id, *number, "failed", std::nullopt, e.what_without_backtrace());
    } catch (const std::exception& e) {
      store.finish_trial(request.sweep_id, *number, "failed", std::nullopt, e.what());
    }
    ++ran;
  }
  if (stop_requested()) throw Interrupted("stopped by signal " + std::to_string(stop_signal()));
  log::info(fmt::format("sweep {}: this worker ran {} trial(s); no trial is waiting", request.sweep_id, ran));
  return kExitOk;
}

}  // namespace
}  // namespace ft

extern "C" int ftrun_training_command(const ft::TrainingRequest& request) {
  using namespace ft;
  log::configure(request.verbose);
  tune_allocator();
  // The catalog outlives the handlers below: an exception thrown by plugin code has its type information and
  // message in the plugin's library, which must still be loaded when the exception is caught here.
  PluginCatalog catalog;
  try {
    const bool distributable =
        request.command == TrainingRequest::Command::run || request.command == TrainingRequest::Command::resume;
    if (!distributable && launch_environment()) {
      throw ConfigError(
          "only `ftrun EXPERIMENT` and `ftrun resume` run on several processes; start this command once, without "
          "torchrun or srun (docs/distributed.md)");
    }
    switch (request.command) {
      case TrainingRequest::Command::run: return command_run(request, catalog);
      case TrainingRequest::Command::resume:
        return command_resume(request.run_id, request.store, request.verbose, catalog);
      case TrainingRequest::Command::plugins: return command_plugins(request.plugin_files, catalog);
      case TrainingRequest::Command::sweep_worker: return command_sweep_worker(request, catalog);
      case TrainingRequest::Command::check_sweep: return command_check_sweep(request, catalog);
      case TrainingRequest::Command::lr_find: return command_lr_find(request, catalog);
      case TrainingRequest::Command::input_speed: return command_input_speed(request, catalog);
    }
  } catch (const Interrupted&) {
    return 128 + (stop_signal() ? stop_signal() : 2);
  } catch (const c10::Error& e) {
    if (is_allocation_failure(e)) {
      log::error(std::string("out of memory: ") + memory_report(e, c10::kCPU) +
                 " (LibTorch: " + e.what_without_backtrace() + ")");
      return kExitResource;
    }
    log::error(std::string("LibTorch: ") + e.what_without_backtrace());
    return kExitRunFailed;
  } catch (const std::bad_alloc& e) {
    log::error(std::string("out of memory: ") + memory_report(e, c10::kCPU));
    return kExitResource;
  } catch (...) {
    return report_current_exception();
  }
  return kExitUsage;
}
