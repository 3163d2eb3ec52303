#pragma once
// Answers about stored runs that several commands share (show, overfit, plot).

#include "store/reports.h"
#include "store/results_store.h"

#include <cstdint>
#include <vector>

namespace ft {

/// The run `run_id`, or a ConfigError saying there is none.
RunSummary run_summary_of(const ResultsStore& store, std::int64_t run_id);

/// What ftrun overfit, show and plot say about one run, from its `epochs`: its monitored metric, its best
/// epoch, the onset of overfitting (a rise lasting at least `patience` evaluations).
OverfitReport overfit_of(const ResultsStore& store, std::int64_t run_id, const std::vector<EpochRow>& epochs,
                         int patience);

/// The same for each of `run_ids`, in their order, read in a few statements however many runs there are.
std::vector<OverfitReport> overfit_of_runs(const ResultsStore& store, const std::vector<std::int64_t>& run_ids,
                                           int patience);

}  // namespace ft
