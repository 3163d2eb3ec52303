#pragma once
// The bridge between a sweep's sampler (ftsdk/sampler.h) and the store's trials: what a sampler that proposes as
// workers ask is given (every trial so far, in its own representation) and what the store records of its answer.

#include "config/sweep.h"
#include "store/results_store.h"

#include <ftsdk/sampler.h>

namespace ft {

/// Asks `sampler` for the trial after every one in the store, as ResultsStore::claim_trial's proposer.
TrialProposer trial_proposer(const SweepPlan& sweep, Sampler& sampler);

/// Trial `number` of the sweep: the plan's own (grid, random), or the one its sampler proposed, read back from the
/// store's `key = value` text.
SweepTrial stored_trial(const SweepPlan& sweep, const std::vector<TrialRow>& trials, std::int64_t number);

}  // namespace ft
