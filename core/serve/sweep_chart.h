#pragma once
// The sweep page's charts: a sweep's objective (its own metric and direction, not the runs' primary metric)
// against each swept parameter, one point per trial.

#include "plot/svg_chart.h"
#include "store/results_store.h"

#include <map>
#include <string>
#include <vector>

namespace ft {

/// A trial's values: its `key = value` lines as key → value text.
std::map<std::string, std::string> trial_values(const std::string& params);

/// Completed trials as points, pruned ones as triangles where they stopped, failed ones as crosses on the axis,
/// the best trial circled. Throws std::invalid_argument when no trial has both an objective and a number for
/// `key` (the page shows "nothing to draw yet").
Chart sweep_chart(const StoredSweep& sweep, const std::vector<TrialRow>& trials, const std::string& key);

}  // namespace ft
