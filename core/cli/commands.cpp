#include "cli/commands.h"

#include "config/experiment.h"
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "log/printable.h"
#include "runner/runner.h"
#include "runner/signals.h"
#include "runner/trainer.h"
#include "store/results_store.h"

#include <ftsdk/version.h>

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace ft {
namespace {

struct RunOptions {
  std::string experiment;
  std::vector<std::string> overrides;
  std::string store;
  bool dry_run = false;
};

struct RunsOptions {
  std::string store;
  std::string name, group, status;
  std::int64_t limit = 50;
};

std::string cell(const std::optional<double>& value) { return value ? fmt::format("{:.4f}", *value) : "-"; }

void print_runs(const std::vector<RunSummary>& runs) {
  if (runs.empty()) {
    std::printf("no runs recorded yet\n");
    return;
  }
  std::printf("%5s  %-22s %-12s %-11s %6s %9s %9s %9s  %s\n", "id", "name", "stage", "status", "epochs", "best_acc",
              "best_loss", "test_acc", "parameters");
  for (const auto& run : runs) {
    std::printf("%5lld  %s %s %-11s %6lld %9s %9s %9s  %s\n", static_cast<long long>(run.id),
                fit_width(run.name, 22).c_str(), fit_width(run.stage.empty() ? "-" : run.stage, 12).c_str(),
                run.status.c_str(), static_cast<long long>(run.epochs), cell(run.best_val_accuracy).c_str(),
                cell(run.best_val_loss).c_str(), cell(run.test_accuracy).c_str(), printable(run.key_params).c_str());
  }
}

int command_run(const RunOptions& options, PluginCatalog& catalog) {
  ExperimentPlan plan = load_experiment(options.experiment, options.overrides);
  if (options.dry_run) {
    for (const auto& run : plan.runs) {
      std::printf("# run: %s%s\n%s\n\n", run.name.c_str(), run.stage.empty() ? "" : (" / stage " + run.stage).c_str(),
                  run.resolved_toml.c_str());
    }
    return kExitOk;
  }
  ResultsStore store(resolve_store_path(options.store, plan.store_path), store_options_from_environment());
  store.close_abandoned_runs();
  load_plugins(catalog, plan);
  install_stop_handlers();
  Runner runner(catalog, store);
  const PlanResult result = runner.run(plan);
  RunFilter filter;
  filter.group_id = result.group_id;
  std::printf("\nRuns of this experiment (store %s):\n", store.path().c_str());
  auto runs = store.list_runs(filter);
  std::reverse(runs.begin(), runs.end());
  print_runs(runs);
  return kExitOk;
}

int command_resume(std::int64_t run_id, const std::string& store_path, PluginCatalog& catalog) {
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  store.close_abandoned_runs();
  const auto stored = store.find_run(run_id);
  if (!stored) throw ConfigError("no run " + std::to_string(run_id) + " in " + store.path() + " (see ftrun runs)");
  if (stored->status == "completed") {
    throw ConfigError("run " + std::to_string(run_id) + " is completed: there is nothing to resume");
  }
  if (stored->status == "running") {
    throw ConfigError("run " + std::to_string(run_id) + " is still running in another process");
  }
  const ExperimentPlan plan = parse_resolved_run(stored->config_toml, "run " + std::to_string(run_id));
  load_plugins(catalog, plan);
  install_stop_handlers();
  Runner(catalog, store).resume(run_id, plan);
  RunFilter filter;
  filter.id = run_id;
  print_runs(store.list_runs(filter));
  return kExitOk;
}

std::string number(double value) { return std::isnan(value) ? "-" : fmt::format("{:.4f}", value); }

// A run's learning curves, marking the epochs where validation loss rose while training loss fell.
int command_show(std::int64_t run_id, const std::string& store_path) {
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  RunFilter filter;
  filter.id = run_id;
  const auto runs = store.list_runs(filter);
  if (runs.empty()) throw ConfigError("no run " + std::to_string(run_id) + " in " + store.path() + " (see ftrun runs)");
  print_runs(runs);
  const auto epochs = store.epochs_of(run_id);
  std::printf("\n%6s %10s %10s %10s %10s %11s\n", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr");
  int overfitting = 0;
  for (std::size_t i = 0; i < epochs.size(); ++i) {
    const auto& e = epochs[i];
    const bool rising = i > 0 && e.val_loss > epochs[i - 1].val_loss && e.train_loss < epochs[i - 1].train_loss;
    overfitting += rising ? 1 : 0;
    std::printf("%6lld %10s %10s %10s %10s %11.3g%s\n", static_cast<long long>(e.epoch), number(e.train_loss).c_str(),
                number(e.train_accuracy).c_str(), number(e.val_loss).c_str(), number(e.val_accuracy).c_str(), e.lr,
                rising ? "  <- val loss up, train loss down" : "");
  }
  if (overfitting > 0) {
    std::printf("\n%d epoch(s) show overfitting: validation loss rose while training loss fell\n", overfitting);
  }
  return kExitOk;
}

// Completed runs grouped by one parameter: which learning rate (or anything else) won.
int command_compare(const std::string& key, const std::string& name, const std::string& store_path) {
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  const auto rows = store.compare_by(key, name.empty() ? std::nullopt : std::optional<std::string>(name));
  if (rows.empty()) {
    std::printf("no completed runs with a parameter %s%s\n", key.c_str(),
                name.empty() ? "" : (" named " + name).c_str());
    return kExitOk;
  }
  std::printf("%-20s %5s %9s %9s %9s\n", key.c_str(), "runs", "best_acc", "mean_acc", "best_loss");
  for (const auto& row : rows) {
    std::printf("%-20s %5lld %9s %9s %9s\n", row.value.c_str(), static_cast<long long>(row.runs),
                cell(row.best_val_accuracy).c_str(), cell(row.mean_best_val_accuracy).c_str(),
                cell(row.best_val_loss).c_str());
  }
  return kExitOk;
}

int command_runs(const RunsOptions& options) {
  ResultsStore store(resolve_store_path(options.store, ""), store_options_from_environment());
  store.close_abandoned_runs();
  RunFilter filter;
  if (!options.name.empty()) filter.name = options.name;
  if (!options.group.empty()) filter.group_id = options.group;
  if (!options.status.empty()) filter.status = options.status;
  filter.limit = options.limit;
  print_runs(store.list_runs(filter));
  return kExitOk;
}

int command_plugins(const std::vector<std::string>& files, PluginCatalog& catalog) {
  ExperimentPlan plan;
  plan.plugin_files = files;
  load_plugins(catalog, plan);
  for (const std::string kind : {"backbone", "dataset", "head", "optimizer", "regularization"}) {
    for (const auto& type : catalog.types(kind)) {
      const auto origin = catalog.origin(kind, type);
      std::printf("%-15s %-18s %s %s  %s\n", kind.c_str(), type.c_str(), origin.plugin->name.c_str(),
                  origin.plugin->version.c_str(), origin.plugin->path.c_str());
    }
  }
  for (const auto& failure : catalog.failures()) std::printf("not loaded: %s\n", failure.c_str());
  return kExitOk;
}

int report(const char* kind, const std::exception& error, int code) {
  log::error(std::string(kind) + error.what());
  return code;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"ftrun: fine-tuning experiments from TOML files, with every run recorded in SQLite"};
  app.set_version_flag("--version", std::string("ftrun ") + kFtrunVersion);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Show debug messages (plugin search, skipped libraries)");
  app.require_subcommand(1);
  // Global flags are accepted after the command too (`ftrun FILE -v`, as documented); subcommands created below
  // inherit this.
  app.fallthrough();

  RunOptions run_options;
  auto* run = app.add_subcommand("run", "Run an experiment file (the default command: `ftrun FILE` works too)");
  run->add_option("experiment", run_options.experiment, "Experiment TOML file")->required();
  run->add_option("--set", run_options.overrides, "Override a key: --set optimizer.lr=0.01 (repeatable)");
  run->add_option("--store", run_options.store,
                  "Results store (default: [experiment] store, $FTRUN_STORE, "
                  "results/ftrun.db)");
  run->add_flag("--dry-run", run_options.dry_run, "Print the resolved experiment and exit");

  RunsOptions runs_options;
  auto* runs = app.add_subcommand("runs", "List recorded runs, newest first");
  runs->add_option("--store", runs_options.store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");
  runs->add_option("--name", runs_options.name, "Only runs of this experiment name");
  runs->add_option("--group", runs_options.group, "Only runs of one invocation (its group id)");
  runs->add_option("--status", runs_options.status, "Only runs with this status")
      ->check(CLI::IsMember({"running", "completed", "failed", "interrupted", "diverged"}));
  runs->add_option("--limit", runs_options.limit, "At most this many runs");

  std::int64_t resume_id = 0;
  std::string resume_store;
  auto* resume = app.add_subcommand("resume", "Continue an interrupted or failed run from its last checkpoint");
  resume->add_option("run", resume_id, "Run id (see ftrun runs)")->required();
  resume->add_option("--store", resume_store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");

  std::int64_t show_id = 0;
  std::string show_store;
  auto* show = app.add_subcommand("show", "Show a run's learning curves, marking epochs that overfit");
  show->add_option("run", show_id, "Run id (see ftrun runs)")->required();
  show->add_option("--store", show_store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");

  std::string compare_key, compare_name, compare_store;
  auto* compare = app.add_subcommand("compare", "Group completed runs by one parameter, best first");
  compare->add_option("param", compare_key, "A flattened parameter, e.g. optimizer.lr")->required();
  compare->add_option("--name", compare_name, "Only runs of this experiment name");
  compare->add_option("--store", compare_store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");

  std::vector<std::string> plugin_files;
  auto* plugins = app.add_subcommand("plugins", "List the plugins found and the components they provide");
  plugins->add_option("files", plugin_files, "Extra plugin libraries to load");

  // `ftrun FILE ...` means `ftrun run FILE ...`, also after global flags (`ftrun -v FILE`).
  std::vector<std::string> args(argv, argv + argc);
  const std::vector<std::string> commands = {"run", "runs", "resume", "show", "compare", "plugins"};
  std::size_t first = 1;
  while (first < args.size() && (args[first] == "-v" || args[first] == "--verbose")) ++first;
  if (first < args.size() && !args[first].empty() && args[first][0] != '-' &&
      std::find(commands.begin(), commands.end(), args[first]) == commands.end()) {
    args.insert(args.begin() + static_cast<std::ptrdiff_t>(first), "run");
  }

  std::vector<char*> pointers;
  for (auto& arg : args) pointers.push_back(arg.data());
  try {
    app.parse(static_cast<int>(pointers.size()), pointers.data());
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? kExitOk : kExitUsage;
  }
  log::configure(verbose);

  // The catalog outlives the handlers below: an exception thrown by plugin code has its type information and
  // message in the plugin's library, which must still be loaded when the exception is caught here.
  PluginCatalog catalog;
  try {
    if (run->parsed()) return command_run(run_options, catalog);
    if (runs->parsed()) return command_runs(runs_options);
    if (resume->parsed()) return command_resume(resume_id, resume_store, catalog);
    if (show->parsed()) return command_show(show_id, show_store);
    if (compare->parsed()) return command_compare(compare_key, compare_name, compare_store);
    if (plugins->parsed()) return command_plugins(plugin_files, catalog);
  } catch (const ConfigError& e) {
    return report("", e, kExitUsage);
  } catch (const PluginError& e) {
    return report("", e, kExitPlugin);
  } catch (const DataError& e) {
    return report("", e, kExitData);
  } catch (const StoreError& e) {
    return report("", e, kExitStore);
  } catch (const Interrupted&) {
    return 128 + (stop_signal() ? stop_signal() : 2);
  } catch (const Error& e) {
    return report("", e, kExitRunFailed);
  } catch (const c10::Error& e) {
    return report("LibTorch: ", std::runtime_error(e.what_without_backtrace()), kExitRunFailed);
  } catch (const std::exception& e) {
    return report("unexpected error: ", e, kExitRunFailed);
  }
  return kExitUsage;
}

}  // namespace ft
