#include "cli/commands.h"

#include "config/core_keys.h"
#include "config/experiment.h"
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "log/printable.h"
#include "runner/runner.h"
#include "runner/signals.h"
#include "runner/trainer.h"
#include "store/results_store.h"
#include "store/run_query.h"

#include <ftsdk/version.h>

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

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
  std::string name, group, status, where, order_by;
  std::int64_t limit = 50;
  bool json = false, csv = false;
};

std::string cell(const std::optional<double>& value) { return value ? fmt::format("{:.4f}", *value) : "-"; }

void print_runs(const std::vector<RunSummary>& runs) {
  if (runs.empty()) {
    std::printf("no runs recorded yet\n");
    return;
  }
  std::printf("%5s  %-22s %-12s %-11s %5s %6s %9s %9s %9s  %s\n", "id", "name", "stage", "status", "seed", "epochs",
              "best_acc", "best_loss", "test_acc", "parameters");
  for (const auto& run : runs) {
    std::printf("%5lld  %s %s %-11s %5lld %6lld %9s %9s %9s  %s\n", static_cast<long long>(run.id),
                fit_width(run.name, 22).c_str(), fit_width(run.stage.empty() ? "-" : run.stage, 12).c_str(),
                run.status.c_str(), static_cast<long long>(run.seed), static_cast<long long>(run.epochs),
                cell(run.best_val_accuracy).c_str(), cell(run.best_val_loss).c_str(), cell(run.test_accuracy).c_str(),
                printable(run.key_params).c_str());
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

std::string epoch_text(const std::optional<std::int64_t>& epoch) { return epoch ? std::to_string(*epoch) : "-"; }

// The run `run_id`, or a ConfigError saying there is none.
RunSummary run_summary_of(const ResultsStore& store, std::int64_t run_id) {
  RunFilter filter;
  filter.id = run_id;
  const auto runs = store.list_runs(filter);
  if (runs.empty()) throw ConfigError("no run " + std::to_string(run_id) + " in " + store.path() + " (see ftrun runs)");
  return runs.front();
}

// What ftrun overfit and ftrun show say about one run, from its `epochs`: its monitored metric, its rises.
OverfitReport overfit_of(const ResultsStore& store, std::int64_t run_id, const std::vector<EpochRow>& epochs,
                         int patience) {
  const std::string monitor = store.param_of(run_id, "train.monitor").value_or("val_loss");
  const std::string mode = store.param_of(run_id, "train.monitor_mode").value_or("auto");
  return overfit_report(epochs, store.validation_rises_of(run_id), monitor, mode, patience);
}

// A run's learning curves, marking its best epoch and the onset of overfitting.
int command_show(std::int64_t run_id, const std::string& store_path) {
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  print_runs({run_summary_of(store, run_id)});
  const auto epochs = store.epochs_of(run_id);
  constexpr int kPatience = 1;  // show every rise that never came back down, however short
  const OverfitReport report = overfit_of(store, run_id, epochs, kPatience);
  std::printf("\n%6s %10s %10s %10s %10s %11s\n", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr");
  for (const auto& e : epochs) {
    std::string mark;
    if (report.best_epoch == e.epoch) mark = "  <- best";
    if (report.onset_epoch && e.epoch >= *report.onset_epoch && !std::isnan(e.val_loss)) {
      mark += e.epoch == *report.onset_epoch ? "  <- overfitting starts" : "  <- overfitting";
    }
    std::printf("%6lld %10s %10s %10s %10s %11.3g%s\n", static_cast<long long>(e.epoch), number(e.train_loss).c_str(),
                number(e.train_accuracy).c_str(), number(e.val_loss).c_str(), number(e.val_accuracy).c_str(), e.lr,
                mark.c_str());
  }
  if (report.onset_epoch) {
    std::printf("\noverfitting from epoch %lld: validation loss stayed above its minimum while training loss fell\n",
                static_cast<long long>(*report.onset_epoch));
  }
  return kExitOk;
}

// Runs grouped by one parameter, stage by stage: which learning rate (or anything else) won.
int command_compare(const std::string& key, const std::string& name, const std::string& stage,
                    const std::string& store_path) {
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  auto optional = [](const std::string& text) {
    return text.empty() ? std::nullopt : std::optional<std::string>(text);
  };
  const auto stages = compare_by_stage(store.outcomes_by(key, optional(name), optional(stage)));
  if (stages.empty()) {
    std::printf("no runs with %s%s%s\n", key.c_str(), name.empty() ? "" : (" named " + name).c_str(),
                stage.empty() ? "" : (" in stage " + stage).c_str());
    return kExitOk;
  }
  auto mean_std = [](double mean, double std) {
    if (std::isnan(mean)) return std::string("-");
    return std::isnan(std) ? fmt::format("{:.4f}", mean) : fmt::format("{:.4f} ± {:.4f}", mean, std);
  };
  for (const auto& comparison : stages) {
    std::printf("%sstage %s\n", &comparison == &stages.front() ? "" : "\n",
                comparison.stage.empty() ? "(none)" : printable(comparison.stage).c_str());
    std::printf("  %-20s %9s %6s %8s %5s  %-20s %-20s\n", key.c_str(), "completed", "failed", "diverged", "other",
                "best_val_acc", "final_val_acc");
    for (const auto& group : comparison.values) {
      std::printf("  %s %9lld %6lld %8lld %5lld  %s %s%s\n", fit_width(group.value, 20).c_str(),
                  static_cast<long long>(group.completed), static_cast<long long>(group.failed),
                  static_cast<long long>(group.diverged), static_cast<long long>(group.other),
                  fit_width(mean_std(group.mean_best, group.std_best), 20).c_str(),
                  fit_width(mean_std(group.mean_final, group.std_final), 20).c_str(), group.best ? "  <- best" : "");
    }
  }
  std::printf(
      "\nbest_val_acc and final_val_acc: mean ± standard deviation over the completed runs (seeds) of a value\n");
  return kExitOk;
}

// Per run: best epoch, epochs after it, the generalisation gap, and the onset of sustained overfitting.
int command_overfit(const std::vector<std::int64_t>& ids, const std::string& name, int patience,
                    const std::string& store_path) {
  if (patience < 1) throw ConfigError("--patience must be at least 1");
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  std::vector<RunSummary> runs;
  if (ids.empty()) {
    RunFilter filter;
    if (!name.empty()) filter.name = name;
    filter.limit = 1000;
    runs = store.list_runs(filter);
    std::reverse(runs.begin(), runs.end());
  } else {
    for (const auto id : ids) runs.push_back(run_summary_of(store, id));
  }
  if (runs.empty()) {
    std::printf("no runs recorded yet\n");
    return kExitOk;
  }
  std::printf("%5s  %-22s %-12s %-11s %-14s %5s %6s %10s %10s %6s %9s\n", "id", "name", "stage", "status", "monitor",
              "best", "after", "gap@best", "gap@last", "onset", "recovered");
  for (const auto& run : runs) {
    const OverfitReport report = overfit_of(store, run.id, store.epochs_of(run.id), patience);
    const long long after = report.best_epoch ? report.last_epoch - *report.best_epoch : 0;
    std::printf("%5lld  %s %s %-11s %-14s %5s %6lld %10s %10s %6s %9lld\n", static_cast<long long>(run.id),
                fit_width(run.name, 22).c_str(), fit_width(run.stage.empty() ? "-" : run.stage, 12).c_str(),
                run.status.c_str(), report.monitor.c_str(), epoch_text(report.best_epoch).c_str(), after,
                number(report.gap_at_best).c_str(), number(report.gap_at_last).c_str(),
                epoch_text(report.onset_epoch).c_str(), static_cast<long long>(report.recovered_rises));
  }
  std::printf(
      "\nbest: epoch with the best monitored value; after: epochs trained after it; gap: validation minus "
      "training loss\n%s\n",
      overfitting_rule(patience).c_str());
  return kExitOk;
}

// A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string csv_number(const std::optional<double>& value) { return value ? fmt::format("{}", *value) : ""; }

nlohmann::json json_number(const std::optional<double>& value) {
  if (!value || std::isnan(*value)) return nullptr;
  return *value;
}

// A run's parameters as a JSON object: numbers as numbers, everything else as text.
nlohmann::json params_json(const ResultsStore& store, std::int64_t run_id) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [key, text] : store.params_of(run_id)) {
    char* end = nullptr;
    const double number = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size())
      params[key] = number;
    else
      params[key] = text;
  }
  return params;
}

int command_runs(const RunsOptions& options) {
  if (options.json && options.csv) throw ConfigError("--json and --csv: choose one");
  RunFilter filter;
  if (!options.name.empty()) filter.name = options.name;
  if (!options.group.empty()) filter.group_id = options.group;
  if (!options.status.empty()) filter.status = options.status;
  if (!options.where.empty()) filter.where = compile_where(options.where);
  if (!options.order_by.empty()) filter.order_by = compile_order_by(options.order_by);
  filter.limit = options.limit;
  ResultsStore store(resolve_store_path(options.store, ""), store_options_from_environment());
  store.close_abandoned_runs();
  const auto runs = store.list_runs(filter);
  if (options.json) {
    auto out = nlohmann::json::array();
    for (const auto& run : runs) {
      out.push_back({{"id", run.id},
                     {"name", run.name},
                     {"stage", run.stage},
                     {"group", run.group_id},
                     {"status", run.status},
                     {"seed", run.seed},
                     {"started_at", run.started_at},
                     {"epochs", run.epochs},
                     {"best_val_accuracy", json_number(run.best_val_accuracy)},
                     {"best_val_loss", json_number(run.best_val_loss)},
                     {"test_accuracy", json_number(run.test_accuracy)},
                     {"params", params_json(store, run.id)}});
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else if (options.csv) {
    std::printf("id,name,stage,group,status,seed,started_at,epochs,best_val_accuracy,best_val_loss,test_accuracy\n");
    for (const auto& run : runs) {
      std::printf("%lld,%s,%s,%s,%s,%lld,%s,%lld,%s,%s,%s\n", static_cast<long long>(run.id),
                  csv_field(run.name).c_str(), csv_field(run.stage).c_str(), csv_field(run.group_id).c_str(),
                  run.status.c_str(), static_cast<long long>(run.seed), run.started_at.c_str(),
                  static_cast<long long>(run.epochs), csv_number(run.best_val_accuracy).c_str(),
                  csv_number(run.best_val_loss).c_str(), csv_number(run.test_accuracy).c_str());
    }
  } else {
    print_runs(runs);
  }
  return kExitOk;
}

// Parameters and every metric row of runs, for pandas, R or a spreadsheet.
int command_export(const std::vector<std::int64_t>& ids, const std::string& format, const std::string& store_path) {
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  std::vector<RunSummary> runs;  // every id checked before anything is printed
  for (const auto id : ids) runs.push_back(run_summary_of(store, id));
  if (format == "csv") {
    // Long format: one row per parameter (kind "param") or metric (kind step, epoch or final).
    std::printf("run_id,kind,epoch,step,name,value\n");
    for (const auto id : ids) {
      for (const auto& [key, value] : store.params_of(id)) {
        std::printf("%lld,param,,,%s,%s\n", static_cast<long long>(id), csv_field(key).c_str(),
                    csv_field(value).c_str());
      }
      for (const auto& row : store.metrics_of(id)) {
        std::printf("%lld,%s,%lld,%lld,%s,%s\n", static_cast<long long>(id), row.scope.c_str(),
                    static_cast<long long>(row.epoch), static_cast<long long>(row.step), csv_field(row.name).c_str(),
                    std::isnan(row.value) ? "nan" : fmt::format("{}", row.value).c_str());
      }
    }
    return kExitOk;
  }
  auto out = nlohmann::json::array();
  for (const auto& run : runs) {
    nlohmann::json metrics = nlohmann::json::array();
    for (const auto& row : store.metrics_of(run.id)) {
      metrics.push_back({{"scope", row.scope},
                         {"epoch", row.epoch},
                         {"step", row.step},
                         {"name", row.name},
                         {"value", json_number(row.value)}});
    }
    out.push_back({{"id", run.id},
                   {"name", run.name},
                   {"stage", run.stage},
                   {"status", run.status},
                   {"seed", run.seed},
                   {"params", params_json(store, run.id)},
                   {"metrics", metrics}});
  }
  std::printf("%s\n", out.dump(2).c_str());
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
  runs->add_option("--where", runs_options.where,
                   "Only runs matching, e.g. \"optimizer.lr < 1e-3 and val_accuracy.max > 0.8\" (docs/cli.md)");
  runs->add_option("--order-by", runs_options.order_by,
                   "Order, e.g. \"val_loss.min asc, seed\" (default: newest first)");
  runs->add_flag("--json", runs_options.json, "Print JSON (with every parameter) instead of a table");
  runs->add_flag("--csv", runs_options.csv, "Print CSV instead of a table");

  std::vector<std::int64_t> export_ids;
  std::string export_format = "json", export_store;
  auto* exporter = app.add_subcommand("export", "Print runs' parameters and every metric row as JSON or CSV");
  exporter->add_option("runs", export_ids, "Run ids")->required();
  exporter
      ->add_option("--format", export_format, "json (default) or csv (long format: run_id,kind,epoch,step,name,value)")
      ->check(CLI::IsMember({"json", "csv"}));
  exporter->add_option("--store", export_store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");

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

  std::string compare_key, compare_name, compare_stage, compare_store;
  auto* compare = app.add_subcommand("compare", "Group runs by one parameter, stage by stage, and mark the best value");
  compare->add_option("param", compare_key, "A flattened parameter (optimizer.lr), or lr/GROUP (lr/backbone)")
      ->required();
  compare->add_option("--name", compare_name, "Only runs of this experiment name");
  compare->add_option("--stage", compare_stage, "Only runs of this stage");
  compare->add_option("--store", compare_store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");

  std::vector<std::int64_t> overfit_ids;
  std::string overfit_name, overfit_store;
  int overfit_patience = 3;
  auto* overfit = app.add_subcommand("overfit", "Per run: best epoch, generalisation gap, onset of overfitting");
  overfit->add_option("runs", overfit_ids, "Run ids (default: every run, or every run of --name)");
  overfit->add_option("--name", overfit_name, "Only runs of this experiment name");
  overfit->add_option("--patience", overfit_patience, "Evaluations a rise must last to count (default 3)");
  overfit->add_option("--store", overfit_store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");

  auto* keys = app.add_subcommand("keys", "List every key the core reads, with its type, default and meaning");

  std::vector<std::string> plugin_files;
  auto* plugins = app.add_subcommand("plugins", "List the plugins found and the components they provide");
  plugins->add_option("files", plugin_files, "Extra plugin libraries to load");

  // `ftrun FILE ...` means `ftrun run FILE ...`, also after global flags (`ftrun -v FILE`).
  std::vector<std::string> args(argv, argv + argc);
  const std::vector<std::string> commands = {"run",     "runs",   "resume",  "show", "compare",
                                             "overfit", "export", "plugins", "keys"};
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
    if (compare->parsed()) return command_compare(compare_key, compare_name, compare_stage, compare_store);
    if (overfit->parsed()) return command_overfit(overfit_ids, overfit_name, overfit_patience, overfit_store);
    if (exporter->parsed()) return command_export(export_ids, export_format, export_store);
    if (plugins->parsed()) return command_plugins(plugin_files, catalog);
    if (keys->parsed()) {
      std::fputs(core_keys_markdown().c_str(), stdout);
      return kExitOk;
    }
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
