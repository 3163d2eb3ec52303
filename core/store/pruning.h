#pragma once
// Whether a sweep trial should stop early, from what the store holds at the moment of the decision (no pruner
// state outside the store, so nothing of it is lost when a sweep is resumed). Plain C++, unit-tested alone.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ft {

struct PrunerConfig {
  std::string type = "none";  // none | median | asha
  // median (Optuna's MedianPruner): decide once `startup_trials` trials completed, from epoch `warmup_epochs` on
  std::int64_t startup_trials = 5;
  std::int64_t warmup_epochs = 1;
  // asha (asynchronous successive halving): rungs at grace_period x reduction_factor^k epochs
  std::int64_t grace_period = 1;
  std::int64_t reduction_factor = 3;
};

/// Median rule: `own` (this trial's best value up to `epoch`) is worse than the median of `others` (the best
/// values up to the same epoch of completed trials). Returns the reason to stop, or nothing.
std::optional<std::string> median_decision(const PrunerConfig& config, std::int64_t epoch, double own,
                                           const std::vector<double>& others, bool minimize);

/// The ASHA rung `epoch` reaches, or nothing when it reaches none since `previous_evaluation`.
std::optional<std::int64_t> asha_rung(const PrunerConfig& config, std::int64_t previous_evaluation, std::int64_t epoch);

/// ASHA rule at a rung: `own` is not among the best 1/reduction_factor of `reached` (the best values up to the
/// rung of every trial that reached it, this one included). Fewer than reduction_factor trials: continue.
std::optional<std::string> asha_decision(const PrunerConfig& config, std::int64_t rung, double own,
                                         const std::vector<double>& reached, bool minimize);

}  // namespace ft
