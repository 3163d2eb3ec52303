#include "serve/api.h"

#include "cli/plot_command.h"
#include "cli/query_commands.h"
#include "cli/run_json.h"
#include "plot/svg_chart.h"
#include "serve/sweep_chart.h"
#include "store/results_store.h"
#include "store/run_query.h"

#include <ftsdk/error.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <variant>

namespace ft {
namespace {

ApiAnswer json_answer(const nlohmann::json& value, int status = 200) {
  return {status, value.dump(), "application/json"};
}

ApiAnswer error_answer(int status, const std::string& message) { return json_answer({{"error", message}}, status); }

nlohmann::json epochs_json(const ResultsStore& store, std::int64_t run_id) {
  auto epochs = nlohmann::json::array();
  for (const auto& row : store.epochs_of(run_id)) {
    epochs.push_back({{"epoch", row.epoch},
                      {"train_loss", json_number(row.train_loss)},
                      {"val_loss", json_number(row.val_loss)},
                      {"train_accuracy", json_number(row.train_accuracy)},
                      {"val_accuracy", json_number(row.val_accuracy)},
                      {"train_primary", json_number(row.train_primary)},
                      {"val_primary", json_number(row.val_primary)},
                      {"lr", json_number(row.lr)}});
  }
  return epochs;
}

// The chart as SVG; a chart with nothing to draw yet is a picture that says so, which the page replaces later.
ApiAnswer svg_answer(const std::function<Chart()>& make) {
  try {
    return {200, render_svg(make()), "image/svg+xml"};
  } catch (const ConfigError& e) {
    return error_answer(400, e.what());
  } catch (const std::invalid_argument&) {
    return {200,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"60\"><text x=\"10\" y=\"35\" "
            "font-family=\"sans-serif\" font-size=\"14\">Nothing recorded to draw yet.</text></svg>",
            "image/svg+xml"};
  }
}

}  // namespace

ApiAnswer runs_answer(const ResultsStore& store, const RunsQuery& query) {
  RunFilter filter;
  try {
    if (!query.where.empty()) filter.where = compile_where(query.where);
    if (!query.order_by.empty()) filter.order_by = compile_order_by(query.order_by);
    if (!query.columns.empty()) filter.columns = compile_columns(query.columns);
  } catch (const ConfigError& e) {
    return error_answer(400, e.what());
  }
  filter.limit = std::clamp<std::int64_t>(query.limit, 1, 500) + 1;  // one more: is there another page?
  filter.offset = std::max<std::int64_t>(query.offset, 0);
  auto runs = store.list_runs(filter);
  const bool more = static_cast<std::int64_t>(runs.size()) == filter.limit;
  if (more) runs.pop_back();
  auto out = nlohmann::json::array();
  for (const auto& run : runs) {
    auto row = run_summary_json(store, run);
    auto columns = nlohmann::json::array();
    for (const auto& value : run.columns) {
      if (const auto* number = std::get_if<double>(&value))
        columns.push_back(json_number(*number));
      else if (const auto* text = std::get_if<std::string>(&value))
        columns.push_back(*text);
      else
        columns.push_back(nullptr);
    }
    row["columns"] = columns;
    out.push_back(row);
  }
  nlohmann::json names = filter.columns ? nlohmann::json(filter.columns->names) : nlohmann::json::array();
  return json_answer({{"runs", out}, {"columns", names}, {"offset", filter.offset}, {"more", more}});
}

ApiAnswer run_answer(const ResultsStore& store, std::int64_t run_id) {
  const auto stored = store.find_run(run_id);
  if (!stored) return error_answer(404, "no run " + std::to_string(run_id) + " in this store");
  RunFilter filter;
  filter.id = run_id;
  const auto summaries = store.list_runs(filter);
  auto plugins = nlohmann::json::array();
  for (const auto& plugin : store.plugins_of(run_id)) {
    plugins.push_back({{"kind", plugin.kind},
                       {"component", plugin.component},
                       {"library", plugin.library},
                       {"plugin", plugin.plugin_name},
                       {"version", plugin.plugin_version}});
  }
  nlohmann::json run = summaries.empty() ? nlohmann::json{{"id", run_id}} : run_summary_json(store, summaries.front());
  run["config_toml"] = stored->config_toml;
  run["plugins"] = plugins;
  run["defaults"] = store.default_params_of(run_id);
  // The test split's results (the run's closing rows), and where its best checkpoint is.
  nlohmann::json final_metrics = nlohmann::json::object();
  for (const auto& row : store.metrics_of(run_id)) {
    if (row.scope == "final") final_metrics[row.name] = json_number(row.value);
  }
  run["final"] = final_metrics;
  try {
    const auto checkpoint = store.checkpoint_of(run_id);
    run["checkpoint"] = checkpoint ? nlohmann::json(*checkpoint) : nlohmann::json(nullptr);
  } catch (const DataError& missing) {
    run["checkpoint"] = std::string("missing: ") + missing.what();
  }
  run["epochs"] = epochs_json(store, run_id);
  return json_answer(run);
}

ApiAnswer epochs_answer(const ResultsStore& store, std::int64_t run_id) {
  const auto status = store.status_of(run_id);
  if (!status) return error_answer(404, "no run " + std::to_string(run_id) + " in this store");
  return json_answer({{"status", *status}, {"epochs", epochs_json(store, run_id)}});
}

ApiAnswer curves_answer(const ResultsStore& store, std::int64_t run_id) {
  if (!store.status_of(run_id)) return error_answer(404, "no run " + std::to_string(run_id) + " in this store");
  PlotOptions options;
  options.runs = {run_id};
  return svg_answer([&] { return curves_chart(store, options); });
}

ApiAnswer learning_rate_answer(const ResultsStore& store, std::int64_t run_id) {
  if (!store.status_of(run_id)) return error_answer(404, "no run " + std::to_string(run_id) + " in this store");
  Chart chart;
  chart.title = "Learning rate per step";
  chart.x_label = "step";
  chart.y_label = "learning rate";
  chart.height = 320;
  bool positive = true;
  for (const auto& row : store.metrics_of(run_id)) {
    if (row.scope != "step" || row.name.rfind("lr/", 0) != 0 || std::isnan(row.value)) continue;
    const std::string group = row.name.substr(3);
    auto series =
        std::find_if(chart.series.begin(), chart.series.end(), [&](const ChartSeries& s) { return s.label == group; });
    if (series == chart.series.end()) {
      chart.series.push_back({group, palette_color(chart.series.size()), {}, false, false});
      series = chart.series.end() - 1;
    }
    series->points.push_back({static_cast<double>(row.step), row.value});
    positive = positive && row.value > 0;
  }
  chart.log_y = positive;  // lr_mult and schedules span decades
  return svg_answer([&] { return chart; });
}

ApiAnswer runs_curves_answer(const ResultsStore& store, const std::string& runs) {
  PlotOptions options;
  std::stringstream list(runs);
  for (std::string id; std::getline(list, id, ',');) {
    try {
      options.runs.push_back(std::stoll(id));
    } catch (const std::exception&) {
      return error_answer(400, "runs: expected run ids separated by commas, e.g. 1,2,3");
    }
    if (!store.status_of(options.runs.back())) return error_answer(404, "no run " + id + " in this store");
  }
  if (options.runs.empty() || options.runs.size() > 20) return error_answer(400, "runs: give 1 to 20 run ids");
  return svg_answer([&] { return curves_chart(store, options); });
}

namespace {

// `sweep` as a sweep id ("" for none); false when it is not a number.
bool sweep_option(const std::string& sweep, std::optional<std::int64_t>& out) {
  if (sweep.empty()) return true;
  try {
    out = std::stoll(sweep);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

ApiAnswer comparison_answer(const ResultsStore& store, const std::string& key, const std::string& name,
                            const std::string& stage, const std::string& sweep) {
  if (key.empty()) return error_answer(400, "key: give the parameter to compare by, e.g. optimizer.lr");
  CompareOptions options;
  options.key = key;
  options.name = name;
  options.stage = stage;
  if (!sweep_option(sweep, options.sweep)) return error_answer(400, "sweep: expected a sweep id");
  return json_answer(comparison_json(store, options));
}

ApiAnswer comparison_chart_answer(const ResultsStore& store, const std::string& key, const std::string& name,
                                  const std::string& stage, const std::string& sweep) {
  if (key.empty()) return error_answer(400, "key: give the parameter to compare by, e.g. optimizer.lr");
  PlotOptions options;
  options.compare = key;
  options.name = name;
  options.stage = stage;
  if (!sweep_option(sweep, options.sweep)) return error_answer(400, "sweep: expected a sweep id");
  return svg_answer([&] { return compare_chart(store, options); });
}

ApiAnswer overfit_answer(const ResultsStore& store, const std::string& where, const std::string& name) {
  OverfitOptions options;
  options.where = where;
  options.name = name;
  options.limit = 200;
  try {
    return json_answer(overfit_json(store, options));
  } catch (const ConfigError& e) {
    return error_answer(400, e.what());
  }
}

namespace {

// A sweep's own fields, as both sweep answers give them.
nlohmann::json sweep_json(const StoredSweep& sweep) {
  return {{"id", sweep.id},
          {"name", sweep.name},
          {"experiment_file", sweep.experiment_file},
          {"method", sweep.method},
          {"metric", sweep.metric},
          {"direction", sweep.direction},
          {"created_at", sweep.created_at}};
}

}  // namespace

ApiAnswer sweeps_answer(const ResultsStore& store) {
  auto out = nlohmann::json::array();
  for (const auto& sweep : store.list_sweeps()) {
    nlohmann::json states = nlohmann::json::object();
    for (const auto& trial : store.trials_of(sweep.id)) {
      states[trial.state] = states.value(trial.state, 0) + 1;
    }
    auto row = sweep_json(sweep);
    row["trials"] = states;
    out.push_back(row);
  }
  return json_answer(out);
}

ApiAnswer sweep_answer(const ResultsStore& store, std::int64_t sweep_id) {
  const auto sweep = store.find_sweep(sweep_id);
  if (!sweep) return error_answer(404, "no sweep " + std::to_string(sweep_id) + " in this store");
  const bool minimize = sweep->direction == "min";
  // The epochs each trial's run trained (where a pruned one stopped), read for the whole sweep at once.
  RunFilter filter;
  filter.group_id = sweep_group(sweep_id);
  filter.limit = std::numeric_limits<std::int32_t>::max();
  std::map<std::int64_t, std::int64_t> epochs_of_run;
  for (const auto& run : store.list_runs(filter)) epochs_of_run[run.id] = run.epochs;
  std::optional<double> best;
  std::vector<std::string> keys;
  auto trials = nlohmann::json::array();
  for (const auto& trial : store.trials_of(sweep_id)) {
    // A trial's values are `key = value` lines; their keys, over all trials, are the swept parameters.
    nlohmann::json values = nlohmann::json::object();
    for (const auto& [key, value] : trial_values(trial.params)) {
      values[key] = value;
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
    if (trial.objective && (!best || (minimize ? *trial.objective < *best : *trial.objective > *best))) {
      best = trial.objective;
    }
    const auto run = trial.run_id ? epochs_of_run.find(*trial.run_id) : epochs_of_run.end();
    const std::int64_t epochs = run == epochs_of_run.end() ? 0 : run->second;
    trials.push_back({{"number", trial.number},
                      {"values", values},
                      {"state", trial.state},
                      {"error", trial.error},
                      {"host", trial.host},
                      {"attempts", trial.attempts},
                      {"run_id", trial.run_id ? nlohmann::json(*trial.run_id) : nlohmann::json(nullptr)},
                      {"epochs", epochs},
                      {"objective", json_number(trial.objective)},
                      {"best_so_far", json_number(best)}});
  }
  auto out = sweep_json(*sweep);
  out["keys"] = keys;
  out["trials"] = trials;
  return json_answer(out);
}

ApiAnswer sweep_chart_answer(const ResultsStore& store, std::int64_t sweep_id, const std::string& key) {
  const auto sweep = store.find_sweep(sweep_id);
  if (!sweep) return error_answer(404, "no sweep " + std::to_string(sweep_id) + " in this store");
  if (key.empty()) return error_answer(400, "key: give a swept parameter, e.g. optimizer.lr");
  return svg_answer([&] { return sweep_chart(*sweep, store.trials_of(sweep_id), key); });
}

}  // namespace ft
