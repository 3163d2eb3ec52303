#include "cli/query_commands.h"

#include "cli/commands.h"
#include "cli/run_json.h"
#include "cli/run_lookup.h"
#include "log/printable.h"
#include "store/reports.h"
#include "store/results_store.h"
#include "store/run_query.h"

#include <ftsdk/error.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace ft {
namespace {

std::string cell(const std::optional<double>& value) { return value ? fmt::format("{:.4f}", *value) : "-"; }

std::string number(double value) { return std::isnan(value) ? "-" : fmt::format("{:.4f}", value); }

std::string epoch_text(const std::optional<std::int64_t>& epoch) { return epoch ? std::to_string(*epoch) : "-"; }

// A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180).
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// A number for CSV: empty when unknown.
std::string csv_number(double value) { return std::isnan(value) ? "" : fmt::format("{}", value); }

std::string csv_number(const std::optional<double>& value) { return value ? csv_number(*value) : ""; }

nlohmann::json json_epoch(const std::optional<std::int64_t>& epoch) {
  if (!epoch) return nullptr;
  return *epoch;
}

std::optional<std::string> given(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional<std::string>(text);
}

}  // namespace

OutputFormat output_format(bool json, bool csv) {
  if (json && csv) throw ConfigError("--json and --csv: choose one");
  return json ? OutputFormat::json : csv ? OutputFormat::csv : OutputFormat::table;
}

std::string short_metric(const std::string& metric) {
  if (metric == "accuracy") return "acc";
  if (metric == "perplexity") return "ppl";
  return metric.substr(0, 6);
}

void print_runs(const std::vector<RunSummary>& runs) {
  if (runs.empty()) {
    std::printf("no runs recorded yet\n");
    return;
  }
  // Each run is judged by its task's primary metric: accuracy (acc) for classification, perplexity (ppl) for a
  // masked language model; `metric` says which, best_val is its best validation value by its own direction.
  std::printf("%5s  %-22s %-12s %-11s %5s %6s %6s %9s %9s %9s  %s\n", "id", "name", "stage", "status", "seed", "epochs",
              "metric", "best_val", "best_loss", "test", "parameters");
  for (const auto& run : runs) {
    std::printf("%5lld  %s %s %-11s %5lld %6lld %6s %9s %9s %9s  %s\n", static_cast<long long>(run.id),
                fit_width(run.name, 22).c_str(), fit_width(run.stage.empty() ? "-" : run.stage, 12).c_str(),
                run.status.c_str(), static_cast<long long>(run.seed), static_cast<long long>(run.epochs),
                short_metric(run.primary_metric).c_str(), cell(run.best_val_primary).c_str(),
                cell(run.best_val_loss).c_str(), cell(run.test_primary).c_str(), printable(run.key_params).c_str());
  }
}

namespace {

// The task's other per-epoch metrics (train_<name>, val_<name> beyond the loss and the primary metric: masked_lm's
// accuracy, detection's AP50 and loss parts), one column each, for the epochs that have any.
void print_other_metrics(const std::vector<MetricRow>& rows, const std::string& primary) {
  const std::set<std::string> shown = {"train_loss", "val_loss", "train_" + primary, "val_" + primary};
  std::vector<std::string> names;
  std::map<std::int64_t, std::map<std::string, double>> by_epoch;
  for (const auto& row : rows) {
    const bool task_metric = row.name.rfind("train_", 0) == 0 || row.name.rfind("val_", 0) == 0;
    if (row.scope != "epoch" || !task_metric || shown.count(row.name)) continue;
    if (std::find(names.begin(), names.end(), row.name) == names.end()) names.push_back(row.name);
    by_epoch[row.epoch][row.name] = row.value;
  }
  if (names.empty()) return;
  // Training's columns first, then validation's, each in the order the task reports them.
  std::stable_partition(names.begin(), names.end(), [](const std::string& n) { return n.rfind("train_", 0) == 0; });
  std::printf("\n%6s", "epoch");
  for (const auto& name : names)
    std::printf(" %*s", static_cast<int>(std::max<std::size_t>(10, name.size())), name.c_str());
  std::printf("\n");
  for (const auto& [epoch, values] : by_epoch) {
    std::printf("%6lld", static_cast<long long>(epoch));
    for (const auto& name : names) {
      const auto found = values.find(name);
      std::printf(" %*s", static_cast<int>(std::max<std::size_t>(10, name.size())),
                  found == values.end() ? "-" : number(found->second).c_str());
    }
    std::printf("\n");
  }
}

}  // namespace

// A run's learning curves, marking its best epoch and the onset of overfitting, then the task's other metrics.
int command_show(std::int64_t run_id, const std::string& store_path) {
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  const RunSummary summary = run_summary_of(store, run_id);
  print_runs({summary});
  const auto epochs = store.epochs_of(run_id);
  const std::string metric = short_metric(summary.primary_metric);
  constexpr int kPatience = 1;  // show every rise that never came back down, however short
  const OverfitReport report = overfit_of(store, run_id, epochs, kPatience);
  // A metric only evaluation computes (detection's mAP) has no training column.
  const bool train_column =
      std::any_of(epochs.begin(), epochs.end(), [](const auto& e) { return !std::isnan(e.train_primary); });
  const auto train_cell = [&](const std::string& text) {
    return train_column ? fmt::format(" {:>10}", text) : std::string();
  };
  std::printf("\n%6s %10s%s %10s %10s %11s\n", "epoch", "train_loss", train_cell("train_" + metric).c_str(), "val_loss",
              ("val_" + metric).c_str(), "lr");
  for (const auto& e : epochs) {
    std::string mark;
    if (report.best_epoch == e.epoch) mark = "  <- best";
    if (report.onset_epoch && e.epoch >= *report.onset_epoch && !std::isnan(e.val_loss)) {
      mark += e.epoch == *report.onset_epoch ? "  <- overfitting starts" : "  <- overfitting";
    }
    std::printf("%6lld %10s%s %10s %10s %11.3g%s\n", static_cast<long long>(e.epoch), number(e.train_loss).c_str(),
                train_cell(number(e.train_primary)).c_str(), number(e.val_loss).c_str(), number(e.val_primary).c_str(),
                e.lr, mark.c_str());
  }
  if (report.onset_epoch) {
    std::printf("\noverfitting from epoch %lld: validation loss stayed above its minimum while training loss fell\n",
                static_cast<long long>(*report.onset_epoch));
  }
  print_other_metrics(store.metrics_of(run_id), summary.primary_metric);
  return kExitOk;
}

namespace {

// Runs grouped by one parameter, stage by stage: which learning rate (or anything else) won.
auto compared_stages(const ResultsStore& store, const CompareOptions& options) {
  return compare_by_stage(
      store.outcomes_by(options.key, given(options.name), given(options.stage),
                        options.sweep ? std::optional<std::string>(sweep_group(*options.sweep)) : std::nullopt));
}

}  // namespace

nlohmann::json comparison_json(const ResultsStore& store, const CompareOptions& options) {
  const auto stages = compared_stages(store, options);
  auto out = nlohmann::json::array();
  for (const auto& comparison : stages) {
    auto values = nlohmann::json::array();
    for (const auto& group : comparison.values) {
      values.push_back({{"value", group.value},
                        {"completed", group.completed},
                        {"failed", group.failed},
                        {"diverged", group.diverged},
                        {"pruned", group.pruned},
                        {"other", group.other},
                        {"best_val_" + comparison.metric,
                         {{"mean", json_number(group.mean_best)}, {"std", json_number(group.std_best)}}},
                        {"final_val_" + comparison.metric,
                         {{"mean", json_number(group.mean_final)}, {"std", json_number(group.std_final)}}},
                        {"best", group.best}});
    }
    out.push_back({{"stage", comparison.stage},
                   {"key", options.key},
                   {"metric", comparison.metric},
                   {"higher_is_better", comparison.higher_is_better},
                   {"values", values}});
  }
  return out;
}

int command_compare(const CompareOptions& options) {
  const OutputFormat format = output_format(options.json, options.csv);
  ResultsStore store(resolve_store_path(options.store, ""), store_options_from_environment());
  if (format == OutputFormat::json) {
    std::printf("%s\n", comparison_json(store, options).dump(2).c_str());
    return kExitOk;
  }
  const auto stages = compared_stages(store, options);
  if (format == OutputFormat::csv) {
    // Named after the compared runs' primary metric (best_val_accuracy_mean for classification), or "primary"
    // when the stages' metrics differ.
    std::string metric = stages.empty() ? std::string("accuracy") : stages.front().metric;
    for (const auto& comparison : stages) {
      if (comparison.metric != metric) metric = "primary";
    }
    std::printf(
        "stage,value,completed,failed,diverged,pruned,other,best_val_%s_mean,best_val_%s_std,"
        "final_val_%s_mean,final_val_%s_std,best\n",
        metric.c_str(), metric.c_str(), metric.c_str(), metric.c_str());
    for (const auto& comparison : stages) {
      for (const auto& group : comparison.values) {
        std::printf("%s,%s,%lld,%lld,%lld,%lld,%lld,%s,%s,%s,%s,%d\n", csv_field(comparison.stage).c_str(),
                    csv_field(group.value).c_str(), static_cast<long long>(group.completed),
                    static_cast<long long>(group.failed), static_cast<long long>(group.diverged),
                    static_cast<long long>(group.pruned), static_cast<long long>(group.other),
                    csv_number(group.mean_best).c_str(), csv_number(group.std_best).c_str(),
                    csv_number(group.mean_final).c_str(), csv_number(group.std_final).c_str(), group.best ? 1 : 0);
      }
    }
    return kExitOk;
  }
  if (stages.empty()) {
    std::printf("no runs with %s%s%s\n", options.key.c_str(),
                options.name.empty() ? "" : (" named " + options.name).c_str(),
                options.stage.empty() ? "" : (" in stage " + options.stage).c_str());
    return kExitOk;
  }
  auto mean_std = [](double mean, double std) {
    if (std::isnan(mean)) return std::string("-");
    return std::isnan(std) ? fmt::format("{:.4f}", mean) : fmt::format("{:.4f} ± {:.4f}", mean, std);
  };
  for (const auto& comparison : stages) {
    std::printf("%sstage %s\n", &comparison == &stages.front() ? "" : "\n",
                comparison.stage.empty() ? "(none)" : printable(comparison.stage).c_str());
    const std::string metric = short_metric(comparison.metric);
    std::printf("  %-20s %9s %6s %8s %6s %5s  %-20s %-20s\n", options.key.c_str(), "completed", "failed", "diverged",
                "pruned", "other", ("best_val_" + metric).c_str(), ("final_val_" + metric).c_str());
    for (const auto& group : comparison.values) {
      std::printf("  %s %9lld %6lld %8lld %6lld %5lld  %s %s%s\n", fit_width(group.value, 20).c_str(),
                  static_cast<long long>(group.completed), static_cast<long long>(group.failed),
                  static_cast<long long>(group.diverged), static_cast<long long>(group.pruned),
                  static_cast<long long>(group.other), fit_width(mean_std(group.mean_best, group.std_best), 20).c_str(),
                  fit_width(mean_std(group.mean_final, group.std_final), 20).c_str(), group.best ? "  <- best" : "");
    }
  }
  std::printf(
      "\nbest_val and final_val: the runs' primary metric (acc: accuracy, higher is better; ppl: perplexity, lower is "
      "better; ap: COCO's box mAP, higher is better), mean ± standard deviation over the completed runs (seeds) of a "
      "value\n");
  return kExitOk;
}

// Per run: best epoch, epochs after it, the generalisation gap, and the onset of sustained overfitting.
namespace {

struct OverfitRows {
  std::vector<RunSummary> runs;
  std::vector<OverfitReport> reports;
};

// The runs `ftrun overfit` reports on (the given ids, or those of --name/--where/--sweep, oldest first), each with
// its report.
OverfitRows overfit_rows(const ResultsStore& store, const OverfitOptions& options) {
  if (options.patience < 1) throw ConfigError("--patience must be at least 1");
  if (!options.runs.empty() && (!options.where.empty() || !options.name.empty() || options.sweep)) {
    throw ConfigError("give run ids or --name/--where/--sweep, not both");
  }
  OverfitRows rows;
  if (options.runs.empty()) {
    RunFilter filter;
    filter.name = given(options.name);
    if (options.sweep) filter.group_id = sweep_group(*options.sweep);
    if (!options.where.empty()) filter.where = compile_where(options.where);
    filter.limit = options.limit;
    rows.runs = store.list_runs(filter);
    std::reverse(rows.runs.begin(), rows.runs.end());
  } else {
    for (const auto id : options.runs) rows.runs.push_back(run_summary_of(store, id));
  }
  std::vector<std::int64_t> ids;
  for (const auto& run : rows.runs) ids.push_back(run.id);
  rows.reports = overfit_of_runs(store, ids, options.patience);
  return rows;
}

std::optional<std::int64_t> after_best(const OverfitReport& report) {
  if (!report.best_epoch) return std::nullopt;
  return report.last_epoch - *report.best_epoch;
}

}  // namespace

nlohmann::json overfit_json(const ResultsStore& store, const OverfitOptions& options) {
  const OverfitRows rows = overfit_rows(store, options);
  auto out = nlohmann::json::array();
  for (std::size_t i = 0; i < rows.runs.size(); ++i) {
    const auto& run = rows.runs[i];
    const auto& report = rows.reports[i];
    out.push_back({{"id", run.id},
                   {"name", run.name},
                   {"stage", run.stage},
                   {"status", run.status},
                   {"monitor", report.monitor},
                   {"best_epoch", json_epoch(report.best_epoch)},
                   {"last_epoch", report.last_epoch},
                   {"epochs_after_best", json_epoch(after_best(report))},
                   {"gap_at_best", json_number(report.gap_at_best)},
                   {"gap_at_last", json_number(report.gap_at_last)},
                   {"onset_epoch", json_epoch(report.onset_epoch)},
                   {"recovered_rises", report.recovered_rises}});
  }
  return {{"patience", options.patience}, {"rule", overfitting_rule(options.patience)}, {"runs", out}};
}

int command_overfit(const OverfitOptions& options) {
  const OutputFormat format = output_format(options.json, options.csv);
  ResultsStore store(resolve_store_path(options.store, ""), store_options_from_environment());
  if (format == OutputFormat::json) {
    std::printf("%s\n", overfit_json(store, options).dump(2).c_str());
    return kExitOk;
  }
  const OverfitRows rows = overfit_rows(store, options);
  const auto& runs = rows.runs;
  const auto& reports = rows.reports;
  if (format == OutputFormat::csv) {
    std::printf(
        "id,name,stage,status,monitor,best_epoch,last_epoch,epochs_after_best,gap_at_best,gap_at_last,"
        "onset_epoch,recovered_rises\n");
    auto csv_epoch = [](const std::optional<std::int64_t>& epoch) { return epoch ? std::to_string(*epoch) : ""; };
    for (std::size_t i = 0; i < runs.size(); ++i) {
      const auto& run = runs[i];
      const auto& report = reports[i];
      std::printf("%lld,%s,%s,%s,%s,%s,%lld,%s,%s,%s,%s,%lld\n", static_cast<long long>(run.id),
                  csv_field(run.name).c_str(), csv_field(run.stage).c_str(), run.status.c_str(), report.monitor.c_str(),
                  csv_epoch(report.best_epoch).c_str(), static_cast<long long>(report.last_epoch),
                  csv_epoch(after_best(report)).c_str(), csv_number(report.gap_at_best).c_str(),
                  csv_number(report.gap_at_last).c_str(), csv_epoch(report.onset_epoch).c_str(),
                  static_cast<long long>(report.recovered_rises));
    }
    return kExitOk;
  }
  if (runs.empty()) {
    std::printf("no runs recorded yet\n");
    return kExitOk;
  }
  std::printf("%5s  %-22s %-12s %-11s %-14s %5s %6s %10s %10s %6s %9s\n", "id", "name", "stage", "status", "monitor",
              "best", "after", "gap@best", "gap@last", "onset", "recovered");
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& run = runs[i];
    const auto& report = reports[i];
    std::printf("%5lld  %s %s %-11s %-14s %5s %6s %10s %10s %6s %9lld\n", static_cast<long long>(run.id),
                fit_width(run.name, 22).c_str(), fit_width(run.stage.empty() ? "-" : run.stage, 12).c_str(),
                run.status.c_str(), report.monitor.c_str(), epoch_text(report.best_epoch).c_str(),
                epoch_text(after_best(report)).c_str(), number(report.gap_at_best).c_str(),
                number(report.gap_at_last).c_str(), epoch_text(report.onset_epoch).c_str(),
                static_cast<long long>(report.recovered_rises));
  }
  std::printf(
      "\nbest: epoch with the best monitored value; after: epochs trained after it; gap: validation minus "
      "training loss\n%s\n",
      overfitting_rule(options.patience).c_str());
  return kExitOk;
}

int command_runs(const RunsOptions& options) {
  if (options.json && options.csv) throw ConfigError("--json and --csv: choose one");
  RunFilter filter;
  if (!options.name.empty()) filter.name = options.name;
  if (!options.group.empty()) filter.group_id = options.group;
  if (options.sweep) filter.group_id = sweep_group(*options.sweep);
  if (!options.status.empty()) filter.status = options.status;
  if (!options.where.empty()) filter.where = compile_where(options.where);
  if (!options.order_by.empty()) filter.order_by = compile_order_by(options.order_by);
  filter.limit = options.limit;
  ResultsStore store(resolve_store_path(options.store, ""), store_options_from_environment());
  store.close_abandoned_runs();
  const auto runs = store.list_runs(filter);
  if (options.json) {
    auto out = nlohmann::json::array();
    for (const auto& run : runs) out.push_back(run_summary_json(store, run));
    std::printf("%s\n", out.dump(2).c_str());
  } else if (options.csv) {
    std::printf(
        "id,name,stage,group,status,seed,started_at,epochs,best_val_accuracy,best_val_loss,test_accuracy,"
        "primary_metric,best_val_primary,test_primary\n");
    for (const auto& run : runs) {
      std::printf("%lld,%s,%s,%s,%s,%lld,%s,%lld,%s,%s,%s,%s,%s,%s\n", static_cast<long long>(run.id),
                  csv_field(run.name).c_str(), csv_field(run.stage).c_str(), csv_field(run.group_id).c_str(),
                  run.status.c_str(), static_cast<long long>(run.seed), run.started_at.c_str(),
                  static_cast<long long>(run.epochs), csv_number(run.best_val_accuracy).c_str(),
                  csv_number(run.best_val_loss).c_str(), csv_number(run.test_accuracy).c_str(),
                  csv_field(run.primary_metric).c_str(), csv_number(run.best_val_primary).c_str(),
                  csv_number(run.test_primary).c_str());
    }
  } else {
    print_runs(runs);
  }
  return kExitOk;
}

// Parameters and every metric row of runs, for pandas, R or a spreadsheet.
int command_export(const std::vector<std::int64_t>& ids, const std::string& format, const std::string& store_path) {
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  std::vector<RunSummary> runs;  // every id checked before anything is printed
  for (const auto id : ids) runs.push_back(run_summary_of(store, id));
  if (format == "csv") {
    // Long format: one row per parameter (kind "param") or metric (kind step, epoch or final).
    std::printf("run_id,kind,epoch,step,name,value\n");
    for (const auto id : ids) {
      for (const auto& [key, value] : store.params_of(id)) {
        std::printf("%lld,param,,,%s,%s\n", static_cast<long long>(id), csv_field(key).c_str(),
                    csv_field(value).c_str());
      }
      for (const auto& row : store.metrics_of(id)) {
        std::printf("%lld,%s,%lld,%lld,%s,%s\n", static_cast<long long>(id), row.scope.c_str(),
                    static_cast<long long>(row.epoch), static_cast<long long>(row.step), csv_field(row.name).c_str(),
                    std::isnan(row.value) ? "nan" : fmt::format("{}", row.value).c_str());
      }
    }
    return kExitOk;
  }
  auto out = nlohmann::json::array();
  for (const auto& run : runs) {
    nlohmann::json metrics = nlohmann::json::array();
    for (const auto& row : store.metrics_of(run.id)) {
      metrics.push_back({{"scope", row.scope},
                         {"epoch", row.epoch},
                         {"step", row.step},
                         {"name", row.name},
                         {"value", json_number(row.value)}});
    }
    out.push_back({{"id", run.id},
                   {"name", run.name},
                   {"stage", run.stage},
                   {"status", run.status},
                   {"seed", run.seed},
                   {"params", params_json(store, run.id)},
                   {"metrics", metrics}});
  }
  std::printf("%s\n", out.dump(2).c_str());
  return kExitOk;
}

}  // namespace ft
