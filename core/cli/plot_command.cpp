#include "cli/plot_command.h"

#include "cli/run_lookup.h"
#include "log/printable.h"
#include "plot/svg_chart.h"
#include "store/results_store.h"

#include <ftsdk/error.h>

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace ft {
namespace {

const std::string kMissed = "#c00000";  // diverged and failed runs

std::optional<double> number_of(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

double value_at(const std::vector<EpochRow>& epochs, std::int64_t epoch, double EpochRow::*field) {
  for (const auto& row : epochs) {
    if (row.epoch == epoch) return row.*field;
  }
  return std::nan("");
}

}  // namespace

// A learning-rate range test (ftrun lr-find): the smoothed loss against the head's rate, suggestions marked.
Chart lr_find_chart(const ResultsStore& store, const RunSummary& run) {
  Chart chart;
  chart.title = fmt::format("Learning-rate range test (run {})", run.id);
  chart.x_label = "learning rate of the head";
  chart.y_label = "smoothed training loss";
  chart.log_x = true;
  std::vector<double> lrs, smoothed;
  std::vector<std::pair<std::string, double>> suggested;
  for (const auto& row : store.metrics_of(run.id)) {
    if (row.scope == "step" && row.name == "lr/head") lrs.push_back(row.value);
    if (row.scope == "step" && row.name == "lr_find_smoothed_loss") smoothed.push_back(row.value);
    if (row.scope == "final" && row.name.rfind("suggested_lr_", 0) == 0)
      suggested.emplace_back(row.name.substr(13), row.value);
  }
  ChartSeries curve{"smoothed loss", palette_color(0), {}, false, false};
  for (std::size_t i = 0; i < std::min(lrs.size(), smoothed.size()); ++i) curve.points.push_back({lrs[i], smoothed[i]});
  chart.series.push_back(curve);
  const ChartMarker::Shape shapes[] = {ChartMarker::Shape::circle, ChartMarker::Shape::triangle,
                                       ChartMarker::Shape::cross};
  std::size_t k = 0;
  for (const auto& [rule, lr] : suggested) {
    // On the curve at the nearest recorded rate.
    std::size_t nearest = 0;
    for (std::size_t i = 0; i < curve.points.size(); ++i) {
      if (std::abs(std::log(curve.points[i].x / lr)) < std::abs(std::log(curve.points[nearest].x / lr))) nearest = i;
    }
    if (curve.points.empty()) break;
    const std::string color = palette_color(k + 1);
    chart.markers.push_back({{lr, curve.points[nearest].y}, color, shapes[k % 3], fmt::format("{}: {:.3g}", rule, lr)});
    chart.notes.push_back({fmt::format("{}: {:.3g}", rule, lr), color, false, false, shapes[k % 3]});
    ++k;
  }
  return chart;
}

Chart curves_chart(const ResultsStore& store, const PlotOptions& options) {
  if (options.runs.size() == 1) {
    const RunSummary run = run_summary_of(store, options.runs.front());
    if (run.stage == "lr_find") return lr_find_chart(store, run);
  }
  if (options.metric != "loss" && options.metric != "accuracy") {
    throw ConfigError("--metric must be loss or accuracy, got " + options.metric);
  }
  const bool loss = options.metric == "loss";
  double EpochRow::*train = loss ? &EpochRow::train_loss : &EpochRow::train_accuracy;
  double EpochRow::*validation = loss ? &EpochRow::val_loss : &EpochRow::val_accuracy;
  Chart chart;
  chart.title = std::string("Learning curves: training and validation ") + options.metric;
  chart.x_label = "epoch";
  chart.y_label = options.metric;
  chart.log_y = options.log_y;
  for (std::size_t i = 0; i < options.runs.size(); ++i) {
    const RunSummary run = run_summary_of(store, options.runs[i]);
    const auto epochs = store.epochs_of(run.id);
    const std::string color = palette_color(i);
    ChartSeries train_series{"", color, {}, true, false}, validation_series{"", color, {}, false, false};
    // Epochs without a value (not evaluated with eval_every > 1, or NaN) are left out, so the evaluated epochs
    // are joined by one line.
    for (const auto& row : epochs) {
      const double x = static_cast<double>(row.epoch);
      if (!std::isnan(row.*train)) train_series.points.push_back({x, row.*train});
      if (!std::isnan(row.*validation)) validation_series.points.push_back({x, row.*validation});
    }
    validation_series.label = fmt::format("run {}: {}{} ({})", run.id, printable(run.name),
                                          run.stage.empty() ? "" : " / " + printable(run.stage), run.status);
    chart.series.push_back(train_series);
    chart.series.push_back(validation_series);
    const OverfitReport report = overfit_of(store, run.id, epochs, options.patience);
    if (report.best_epoch) {
      chart.markers.push_back(
          {{static_cast<double>(*report.best_epoch), value_at(epochs, *report.best_epoch, validation)},
           color,
           ChartMarker::Shape::circle,
           fmt::format("run {}: best epoch {} by {}", run.id, *report.best_epoch, report.monitor)});
    }
    if (report.onset_epoch) {
      chart.markers.push_back(
          {{static_cast<double>(*report.onset_epoch), value_at(epochs, *report.onset_epoch, validation)},
           color,
           ChartMarker::Shape::triangle,
           fmt::format("run {}: overfitting from epoch {}", run.id, *report.onset_epoch)});
    }
  }
  // A diverged run's loss can be many orders of magnitude above the others: a log axis keeps them readable.
  double low = INFINITY, high = 0;
  bool positive = true;
  for (const auto& series : chart.series) {
    for (const auto& point : series.points) {
      if (!std::isfinite(point.y)) continue;
      positive = positive && point.y > 0;
      low = std::min(low, point.y);
      high = std::max(high, point.y);
    }
  }
  if (positive && low > 0 && high / low > 1e3) chart.log_y = true;
  chart.notes = {{"solid: validation"},
                 {"dashed: training", "#444", true},
                 {"best epoch (train.monitor)", "#444", false, false, ChartMarker::Shape::circle},
                 {fmt::format("overfitting onset (rise >= {} evals)", options.patience), "#444", false, false,
                  ChartMarker::Shape::triangle}};
  return chart;
}

Chart compare_chart(const ResultsStore& store, const PlotOptions& options) {
  auto optional = [](const std::string& text) {
    return text.empty() ? std::nullopt : std::optional<std::string>(text);
  };
  const auto outcomes =
      store.outcomes_by(options.compare, optional(options.name), optional(options.stage),
                        options.sweep ? std::optional<std::string>(sweep_group(*options.sweep)) : std::nullopt);
  if (outcomes.empty()) throw ConfigError("no runs with " + options.compare + " to plot");
  Chart chart;
  // The runs' primary metric: accuracy for classification, perplexity for masked_lm, ...
  std::string metric = outcomes.front().primary_metric;
  for (const auto& outcome : outcomes) {
    if (outcome.primary_metric != metric) metric = "primary metric";
  }
  chart.title = "Best validation " + metric + " by " + options.compare;
  chart.x_label = options.compare;
  chart.y_label = "best validation " + metric;
  chart.log_x = !options.linear_x;
  // Stages are never mixed: one color, one set of points and one line of means per stage.
  std::map<std::string, std::size_t> stage_index;
  for (const auto& outcome : outcomes) stage_index.emplace(outcome.stage, stage_index.size());
  const auto comparisons = compare_by_stage(outcomes);
  double lowest = INFINITY;
  std::size_t numeric = 0;
  for (const auto& outcome : outcomes) {
    const auto x = number_of(outcome.value);
    if (!x) continue;
    ++numeric;
    if (*x <= 0) chart.log_x = false;
    if (outcome.best_val_primary) lowest = std::min(lowest, *outcome.best_val_primary);
  }
  if (numeric == 0) throw ConfigError(options.compare + " has no numeric values to plot; use ftrun compare");
  if (!std::isfinite(lowest)) lowest = 0;
  for (const auto& [stage, index] : stage_index) {
    const std::string color = palette_color(index);
    const std::string stage_name = stage.empty() ? std::string("runs") : "stage " + printable(stage);
    ChartSeries points{stage_name + ": a run", color, {}, false, true};
    for (const auto& outcome : outcomes) {
      const auto x = number_of(outcome.value);
      if (outcome.stage != stage || !x) continue;
      if (outcome.status == "completed" && outcome.best_val_primary) {
        points.points.push_back({*x, *outcome.best_val_primary});
      } else if (outcome.status == "diverged" || outcome.status == "failed") {
        chart.markers.push_back(
            {{*x, lowest},
             kMissed,
             ChartMarker::Shape::cross,
             fmt::format("run {} {} at {} = {}", outcome.id, outcome.status, options.compare, outcome.value)});
      }
    }
    ChartSeries means{stage_name + ": mean over seeds", color, {}, false, false};
    for (const auto& comparison : comparisons) {
      if (comparison.stage != stage) continue;
      for (const auto& group : comparison.values) {
        const auto x = number_of(group.value);
        if (!x || std::isnan(group.mean_best)) continue;
        means.points.push_back({*x, group.mean_best});
        if (group.best) {
          chart.markers.push_back({{*x, group.mean_best},
                                   color,
                                   ChartMarker::Shape::circle,
                                   fmt::format("best {} of {}: {} (mean {:.4f})", options.compare, stage_name,
                                               group.value, group.mean_best)});
        }
      }
    }
    chart.series.push_back(points);
    chart.series.push_back(means);
  }
  chart.notes = {{"best value (highest mean)", "#444", false, false, ChartMarker::Shape::circle},
                 {"diverged or failed run", kMissed, false, false, ChartMarker::Shape::cross}};
  return chart;
}

int command_plot(const PlotOptions& options) {
  if (options.output.empty()) throw ConfigError("ftrun plot needs -o FILE.svg");
  if (options.compare.empty() == options.runs.empty()) {
    throw ConfigError("ftrun plot takes run ids (learning curves) or --compare KEY, one of the two");
  }
  if (options.patience < 1) throw ConfigError("--patience must be at least 1");
  ResultsStore store(resolve_store_path(options.store, ""), store_options_from_environment());
  const Chart chart = options.compare.empty() ? curves_chart(store, options) : compare_chart(store, options);
  std::string svg;
  try {
    svg = render_svg(chart);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("cannot plot: ") + e.what());
  }
  // Written beside the target and renamed, so an interrupted write never leaves half a picture.
  const std::string temporary = options.output + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary);
    out << svg;
    if (!out.flush()) throw ConfigError("cannot write " + options.output + " (check the folder exists)");
  }
  std::filesystem::rename(temporary, options.output);
  std::printf("wrote %s\n", options.output.c_str());
  return 0;
}

}  // namespace ft
