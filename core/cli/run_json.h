#pragma once
// Runs as JSON, as `ftrun runs --json` and `ftrun export` print them and `ftrun serve` answers: one shape for all.

#include "store/results_store.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>

namespace ft {

/// A number, or null for NaN (JSON has no NaN).
nlohmann::json json_number(double value);
/// A number, or null when there is none.
nlohmann::json json_number(const std::optional<double>& value);

/// A run's parameters as one object: numbers as numbers, everything else as text.
nlohmann::json params_json(const ResultsStore& store, std::int64_t run_id);

/// One run of `ftrun runs --json`: its summary and every parameter.
nlohmann::json run_summary_json(const ResultsStore& store, const RunSummary& run);

}  // namespace ft
