// The commands that need LibTorch, built as libftrun_training.so and loaded by the ftrun front end only when
// one of them is asked for (training_request.h says why).
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/query_commands.h"
#include "cli/training_request.h"

#include "config/experiment.h"
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "runner/runner.h"
#include "runner/signals.h"
#include "runner/trainer.h"
#include "store/results_store.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdio>

namespace ft {
namespace {

int command_run(const TrainingRequest& options, PluginCatalog& catalog) {
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

}  // namespace
}  // namespace ft

extern "C" int ftrun_training_command(const ft::TrainingRequest& request) {
  using namespace ft;
  log::configure(request.verbose);
  // The catalog outlives the handlers below: an exception thrown by plugin code has its type information and
  // message in the plugin's library, which must still be loaded when the exception is caught here.
  PluginCatalog catalog;
  try {
    switch (request.command) {
      case TrainingRequest::Command::run: return command_run(request, catalog);
      case TrainingRequest::Command::resume: return command_resume(request.run_id, request.store, catalog);
      case TrainingRequest::Command::plugins: return command_plugins(request.plugin_files, catalog);
    }
  } catch (const Interrupted&) {
    return 128 + (stop_signal() ? stop_signal() : 2);
  } catch (const c10::Error& e) {
    log::error(std::string("LibTorch: ") + e.what_without_backtrace());
    return kExitRunFailed;
  } catch (...) {
    return report_current_exception();
  }
  return kExitUsage;
}
