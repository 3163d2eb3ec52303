// The ftrun command line. It never loads LibTorch: the questions to the store are answered here; run, resume,
// plugins, lr-find and the sweep workers are handed to the training library (training_request.h).
#include "cli/commands.h"

#include "cli/errors.h"
#include "cli/plot_command.h"
#include "cli/query_commands.h"
#include "cli/sweep_command.h"
#include "cli/training_request.h"
#include "config/core_keys.h"
#include "log/log.h"
#include "serve/serve_command.h"

#include <ftsdk/version.h>

#include <CLI/CLI.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;

namespace ft {

// Runs a command that needs LibTorch in the training library, loaded now (training_request.h).
int run_training(const TrainingRequest& request) {
  std::error_code error;
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe", error).parent_path();
  std::vector<fs::path> candidates = {exe_dir / kTrainingLibraryName, exe_dir / "../lib/ftrun" / kTrainingLibraryName};
  std::string problems;
  for (const auto& candidate : candidates) {
    if (!fs::exists(candidate, error)) continue;
    void* library = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      problems += std::string("\n  ") + dlerror();
      continue;
    }
    auto* entry = reinterpret_cast<TrainingEntry*>(dlsym(library, kTrainingEntryName));
    if (!entry) {
      problems += "\n  " + candidate.string() + ": no " + kTrainingEntryName;
      continue;
    }
    // Never unloaded: plugins and LibTorch keep state (threads, handlers) until the process exits.
    return entry(request);
  }
  log::error("ftrun cannot load its training library " + std::string(kTrainingLibraryName) + " (looked in " +
             candidates[0].parent_path().string() + " and " + candidates[1].parent_path().string() + ")" + problems +
             "\nreinstall ftrun or rebuild it (scripts/setup)");
  return kExitRunFailed;
}

int run_cli(int argc, char** argv) {
  CLI::App app{"ftrun: fine-tuning experiments from TOML files, with every run recorded in SQLite"};
  app.set_version_flag("--version", std::string("ftrun ") + kFtrunVersion);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Show debug messages (plugin search, skipped libraries)");
  app.require_subcommand(1);
  // Global flags are accepted after the command too (`ftrun FILE -v`, as documented); subcommands created below
  // inherit this.
  app.fallthrough();

  // Where checkpoints go (a folder every node mounts, for a PostgreSQL store on a cluster): passed on as
  // $FTRUN_CHECKPOINT_DIR, which the store reads and sweep workers inherit (docs/store.md, "PostgreSQL").
  std::string checkpoint_dir;
  const char* checkpoint_help = "Folder for checkpoints (default: $FTRUN_CHECKPOINT_DIR, else beside an SQLite store)";

  TrainingRequest run_options;  // the training commands fill one request each
  auto* run = app.add_subcommand("run", "Run an experiment file (the default command: `ftrun FILE` works too)");
  run->add_option("experiment", run_options.experiment, "Experiment TOML file")->required();
  run->add_option("--set", run_options.overrides, "Override a key: --set optimizer.lr=0.01 (repeatable)");
  run->add_option("--store", run_options.store,
                  "Results store (default: [experiment] store, $FTRUN_STORE, "
                  "results/ftrun.db)");
  run->add_flag("--dry-run", run_options.dry_run, "Print the resolved experiment and exit");
  run->add_option("--checkpoint-dir", checkpoint_dir, checkpoint_help);

  RunsOptions runs_options;
  auto* runs = app.add_subcommand("runs", "List recorded runs, newest first");
  runs->add_option("--store", runs_options.store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");
  runs->add_option("--name", runs_options.name, "Only runs of this experiment name");
  runs->add_option("--group", runs_options.group, "Only runs of one invocation (its group id)");
  runs->add_option("--status", runs_options.status, "Only runs with this status")
      ->check(CLI::IsMember({"running", "completed", "failed", "interrupted", "diverged"}));
  runs->add_option("--limit", runs_options.limit, "At most this many runs");
  runs->add_option("--sweep", runs_options.sweep, "Only the runs of this sweep (ftrun sweep status)");
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

  TrainingRequest resume_options;
  resume_options.command = TrainingRequest::Command::resume;
  auto* resume = app.add_subcommand("resume", "Continue an interrupted or failed run from its last checkpoint");
  resume->add_option("run", resume_options.run_id, "Run id (see ftrun runs)")->required();
  resume->add_option("--store", resume_options.store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");
  resume->add_option("--checkpoint-dir", checkpoint_dir, checkpoint_help);

  std::int64_t show_id = 0;
  std::string show_store;
  auto* show = app.add_subcommand("show", "Show a run's learning curves, marking epochs that overfit");
  show->add_option("run", show_id, "Run id (see ftrun runs)")->required();
  show->add_option("--store", show_store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");

  CompareOptions compare_options;
  auto* compare = app.add_subcommand("compare", "Group runs by one parameter, stage by stage, and mark the best value");
  compare->add_option("param", compare_options.key, "A flattened parameter (optimizer.lr), or lr/GROUP (lr/backbone)")
      ->required();
  compare->add_option("--name", compare_options.name, "Only runs of this experiment name");
  compare->add_option("--stage", compare_options.stage, "Only runs of this stage");
  compare->add_option("--sweep", compare_options.sweep, "Only the runs of this sweep");
  compare->add_flag("--json", compare_options.json, "Print JSON instead of a table");
  compare->add_flag("--csv", compare_options.csv, "Print CSV instead of a table");
  compare->add_option("--store", compare_options.store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");

  OverfitOptions overfit_options;
  auto* overfit = app.add_subcommand("overfit", "Per run: best epoch, generalisation gap, onset of overfitting");
  overfit->add_option("runs", overfit_options.runs, "Run ids (default: every run, or every run of --name/--where)");
  overfit->add_option("--name", overfit_options.name, "Only runs of this experiment name");
  overfit->add_option("--where", overfit_options.where, "Only runs matching, as for ftrun runs --where");
  overfit->add_option("--sweep", overfit_options.sweep, "Only the runs of this sweep");
  overfit->add_option("--limit", overfit_options.limit, "At most this many runs, the newest (default 1000)");
  overfit->add_option("--patience", overfit_options.patience, "Evaluations a rise must last to count (default 3)");
  overfit->add_flag("--json", overfit_options.json, "Print JSON instead of a table");
  overfit->add_flag("--csv", overfit_options.csv, "Print CSV instead of a table");
  overfit->add_option("--store", overfit_options.store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");

  PlotOptions plot_options;
  auto* plot = app.add_subcommand("plot", "Draw runs' learning curves, or a metric against a parameter, as SVG");
  plot->add_option("runs", plot_options.runs, "Run ids whose curves to draw");
  plot->add_option("--compare", plot_options.compare,
                   "Draw each run's best validation accuracy against this parameter (e.g. optimizer.lr)");
  plot->add_option("-o,--output", plot_options.output, "The SVG file to write")->required();
  plot->add_option("--metric", plot_options.metric, "Curves of loss (default) or accuracy")
      ->check(CLI::IsMember({"loss", "accuracy"}));
  plot->add_flag("--log-y", plot_options.log_y, "Logarithmic y axis");
  plot->add_flag("--linear-x", plot_options.linear_x, "With --compare: linear x axis (default: log)");
  plot->add_option("--patience", plot_options.patience, "Evaluations a rise must last to mark an onset (default 3)");
  plot->add_option("--name", plot_options.name, "With --compare: only runs of this experiment name");
  plot->add_option("--stage", plot_options.stage, "With --compare: only runs of this stage");
  plot->add_option("--sweep", plot_options.sweep, "With --compare: only the runs of this sweep");
  plot->add_option("--store", plot_options.store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");

  SweepOptions sweep_options;
  auto* sweep =
      app.add_subcommand("sweep", "Run the trials of an experiment's [sweep] with N workers (docs/sweeps.md)");
  sweep->add_option("experiment", sweep_options.experiment, "Experiment TOML file with a [sweep] table");
  sweep->add_option("--set", sweep_options.overrides, "Override a key of every trial (repeatable)");
  sweep->add_option("--workers", sweep_options.workers, "Worker processes taking trials from the store (default 1)");
  sweep->add_option("--gpus", sweep_options.gpus, "GPUs to give the workers one each, e.g. 0,1,2,3");
  sweep->add_option("--checkpoint-dir", checkpoint_dir, checkpoint_help);
  sweep->add_option("--shard", sweep_options.shard,
                    "I/N: only trials I, I+N, I+2N, ... (one task of a Slurm array; merge the stores after)");
  sweep->add_flag("--dry-run", sweep_options.dry_run, "List the trials and exit");
  sweep->add_option("--store", sweep_options.store,
                    "Results store (default: [experiment] store, $FTRUN_STORE, "
                    "results/ftrun.db)");
  std::optional<std::int64_t> status_id;
  std::string status_store;
  auto* sweep_status = sweep->add_subcommand("status", "Trials by state, the best so far, the time left");
  sweep_status->add_option("sweep", status_id, "Sweep id (default: the newest)");
  sweep_status->add_option("--store", status_store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");
  // The worker processes `ftrun sweep --workers N` starts; not for people, so not in the help.
  TrainingRequest worker_options;
  worker_options.command = TrainingRequest::Command::sweep_worker;
  auto* sweep_worker = app.add_subcommand("sweep-worker", "")->group("");
  sweep_worker->add_option("sweep", worker_options.sweep_id)->required();
  sweep_worker->add_option("--store", worker_options.store)->required();
  sweep_worker->add_option("--threads", worker_options.threads);

  TrainingRequest lr_options;
  lr_options.command = TrainingRequest::Command::lr_find;
  auto* lr_find = app.add_subcommand("lr-find", "Learning-rate range test on an experiment's model and data");
  lr_find->add_option("experiment", lr_options.experiment, "Experiment TOML file")->required();
  lr_find->add_option("--set", lr_options.overrides, "Override a key (repeatable)");
  lr_find->add_option("--stage", lr_options.stage, "The stage to test (default: the first)");
  lr_find->add_option("--start", lr_options.lr_start, "The head's first rate (default 1e-7)");
  lr_find->add_option("--end", lr_options.lr_end, "The head's last rate (default 10)");
  lr_find->add_option("--steps", lr_options.lr_steps, "Optimizer steps from start to end (default 100)");
  lr_find->add_option("--stop-factor", lr_options.stop_factor,
                      "Stop when the smoothed loss exceeds this times its minimum (default 4)");
  lr_find->add_option("--smoothing", lr_options.smoothing, "Weight of the moving average of the loss (default 0.98)");
  lr_find->add_option("--store", lr_options.store,
                      "Results store (default: [experiment] store, $FTRUN_STORE, "
                      "results/ftrun.db)");

  TrainingRequest speed_options;
  speed_options.command = TrainingRequest::Command::input_speed;
  auto* input_speed = app.add_subcommand(
      "input-speed", "Time the experiment's input pipeline alone (decode, crops, batches), without the model");
  input_speed->add_option("experiment", speed_options.experiment, "Experiment TOML file")->required();
  input_speed->add_option("--set", speed_options.overrides, "Override a key (repeatable)");
  input_speed->add_option("--stage", speed_options.stage, "The stage whose data to read (default: the first)");
  input_speed->add_option("--epochs", speed_options.epochs, "Passes over the training split (default 2)");

  std::string merge_output;
  std::vector<std::string> merge_inputs;
  auto* merge = app.add_subcommand("merge", "Copy the runs, sweeps and trials of stores into one (docs/sweeps.md)");
  merge->add_option("output", merge_output, "The store to merge into (created if missing)")->required();
  merge->add_option("inputs", merge_inputs, "Stores to copy from")->required();

  ServeOptions serve_options;
  auto* serve = app.add_subcommand("serve", "Show the store in a browser, live while runs train (read-only)");
  serve->add_option("--store", serve_options.store, "Results store (default: $FTRUN_STORE, results/ftrun.db)");
  serve->add_option("--port", serve_options.port, "Port (default 8765; 0: any free port, printed)");
  serve->add_option("--host", serve_options.host,
                    "Address to listen on (default 127.0.0.1; any other needs a token, generated when not given)");
  serve->add_option("--token", serve_options.token, "Token every request must carry (?token=, or a Bearer header)");

  auto* keys = app.add_subcommand("keys", "List every key the core reads, with its type, default and meaning");

  TrainingRequest plugins_options;
  plugins_options.command = TrainingRequest::Command::plugins;
  auto* plugins = app.add_subcommand("plugins", "List the plugins found and the components they provide");
  plugins->add_option("files", plugins_options.plugin_files, "Extra plugin libraries to load");

  // `ftrun FILE ...` means `ftrun run FILE ...`, also after global flags (`ftrun -v FILE`).
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> commands;  // every subcommand's name, so a new command cannot be missed here
  for (const auto* subcommand : app.get_subcommands([](CLI::App*) { return true; })) {
    commands.push_back(subcommand->get_name());
  }
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
  if (!checkpoint_dir.empty()) setenv("FTRUN_CHECKPOINT_DIR", checkpoint_dir.c_str(), 1);

  try {
    for (auto* request :
         {&run_options, &resume_options, &plugins_options, &worker_options, &lr_options, &speed_options}) {
      request->verbose = verbose;
    }
    if (lr_find->parsed()) return run_training(lr_options);
    if (input_speed->parsed()) return run_training(speed_options);
    sweep_options.verbose = verbose;
    if (sweep_status->parsed()) return command_sweep_status(status_id, status_store);
    if (sweep->parsed()) {
      if (sweep_options.experiment.empty())
        throw ConfigError("ftrun sweep needs an experiment file (or: sweep status)");
      return command_sweep(sweep_options);
    }
    if (sweep_worker->parsed()) return run_training(worker_options);
    if (merge->parsed()) return command_merge(merge_output, merge_inputs);
    if (run->parsed()) return run_training(run_options);
    if (resume->parsed()) return run_training(resume_options);
    if (plugins->parsed()) return run_training(plugins_options);
    if (serve->parsed()) return command_serve(serve_options);
    if (runs->parsed()) return command_runs(runs_options);
    if (show->parsed()) return command_show(show_id, show_store);
    if (compare->parsed()) return command_compare(compare_options);
    if (overfit->parsed()) return command_overfit(overfit_options);
    if (exporter->parsed()) return command_export(export_ids, export_format, export_store);
    if (plot->parsed()) return command_plot(plot_options);
    if (keys->parsed()) {
      std::fputs(core_keys_markdown().c_str(), stdout);
      return kExitOk;
    }
  } catch (...) {
    return report_current_exception();
  }
  return kExitUsage;
}

}  // namespace ft
