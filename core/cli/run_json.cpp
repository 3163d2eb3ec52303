#include "cli/run_json.h"

#include <cmath>
#include <cstdlib>

namespace ft {

nlohmann::json json_number(double value) {
  if (std::isnan(value)) return nullptr;
  return value;
}

nlohmann::json json_number(const std::optional<double>& value) { return value ? json_number(*value) : nullptr; }

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

nlohmann::json run_summary_json(const ResultsStore& store, const RunSummary& run) {
  return {{"id", run.id},
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
          {"primary_metric", run.primary_metric},
          {"primary_direction", run.primary_direction},
          {"best_val_primary", json_number(run.best_val_primary)},
          {"test_primary", json_number(run.test_primary)},
          {"params", params_json(store, run.id)}};
}

}  // namespace ft
