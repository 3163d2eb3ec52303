#include "cli/run_lookup.h"

#include <ftsdk/error.h>

namespace ft {

RunSummary run_summary_of(const ResultsStore& store, std::int64_t run_id) {
  RunFilter filter;
  filter.id = run_id;
  const auto runs = store.list_runs(filter);
  if (runs.empty()) throw ConfigError("no run " + std::to_string(run_id) + " in " + store.path() + " (see ftrun runs)");
  return runs.front();
}

OverfitReport overfit_of(const ResultsStore& store, std::int64_t run_id, const std::vector<EpochRow>& epochs,
                         int patience) {
  const std::string monitor = store.param_of(run_id, "train.monitor").value_or("val_loss");
  const std::string mode = store.param_of(run_id, "train.monitor_mode").value_or("auto");
  return overfit_report(epochs, store.validation_rises_of(run_id), monitor, mode, patience);
}

}  // namespace ft
