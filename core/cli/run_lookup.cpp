#include "cli/run_lookup.h"

#include "config/monitor_defaults.h"

#include <ftsdk/error.h>

#include <map>

namespace ft {

RunSummary run_summary_of(const ResultsStore& store, std::int64_t run_id) {
  RunFilter filter;
  filter.id = run_id;
  const auto runs = store.list_runs(filter);
  if (runs.empty()) throw ConfigError("no run " + std::to_string(run_id) + " in " + store.path() + " (see ftrun runs)");
  return runs.front();
}

namespace {

// What a run recorded without train.monitor or train.monitor_mode (by an ftrun older than those keys) was judged by.
const std::string kMonitor = kDefaultMonitor, kMonitorMode = kDefaultMonitorMode;

template <class Value>
const Value& value_or(const std::map<std::int64_t, Value>& values, std::int64_t run_id, const Value& otherwise) {
  const auto found = values.find(run_id);
  return found == values.end() ? otherwise : found->second;
}

}  // namespace

OverfitReport overfit_of(const ResultsStore& store, std::int64_t run_id, const std::vector<EpochRow>& epochs,
                         int patience) {
  const std::string monitor = store.param_of(run_id, "train.monitor").value_or(kMonitor);
  const std::string mode = store.param_of(run_id, "train.monitor_mode").value_or(kMonitorMode);
  return overfit_report(epoch_facts(epochs, monitor, mode), store.validation_rises_of(run_id), monitor, patience);
}

std::vector<OverfitReport> overfit_of_runs(const ResultsStore& store, const std::vector<std::int64_t>& run_ids,
                                           int patience) {
  // Each run's best epoch and gaps as the store keeps them (run_results): reading every epoch of thousands of runs
  // to work them out took seconds (docs/performance.md).
  const auto facts = store.epoch_facts_of_runs(run_ids);
  const auto rises = store.validation_rises_of_runs(run_ids);
  const auto monitors = store.param_of_runs(run_ids, "train.monitor");
  const EpochFacts no_epochs;
  const std::vector<ValidationRise> no_rises;
  std::vector<OverfitReport> reports;
  for (const std::int64_t id : run_ids) {
    reports.push_back(overfit_report(value_or(facts, id, no_epochs), value_or(rises, id, no_rises),
                                     value_or(monitors, id, kMonitor), patience));
  }
  return reports;
}

}  // namespace ft
