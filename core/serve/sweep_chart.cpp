#include "serve/sweep_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace ft {
namespace {

std::optional<double> number_in(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

}  // namespace

std::map<std::string, std::string> trial_values(const std::string& params) {
  std::map<std::string, std::string> values;
  std::stringstream lines(params);
  for (std::string line; std::getline(lines, line);) {
    const auto equals = line.find(" = ");
    if (equals != std::string::npos) values[line.substr(0, equals)] = line.substr(equals + 3);
  }
  return values;
}

Chart sweep_chart(const StoredSweep& sweep, const std::vector<TrialRow>& trials, const std::string& key) {
  const bool minimize = sweep.direction == "min";
  Chart chart;
  chart.title = (minimize ? "Lowest " : "Highest ") + sweep.metric + " of each trial by " + key;
  chart.x_label = key;
  chart.y_label = sweep.metric + (minimize ? " (lower is better)" : " (higher is better)");
  chart.width = 640;
  chart.height = 400;
  ChartSeries completed{"completed trial", palette_color(0), {}, false, true};
  std::optional<ChartPoint> best;
  double low_x = INFINITY, high_x = -INFINITY, low_y = INFINITY;
  for (const auto& trial : trials) {
    const auto values = trial_values(trial.params);
    const auto found = values.find(key);
    const auto x = found == values.end() ? std::nullopt : number_in(found->second);
    if (!x) continue;
    low_x = std::min(low_x, *x);
    high_x = std::max(high_x, *x);
    if (!trial.objective || !std::isfinite(*trial.objective)) continue;
    const ChartPoint point{*x, *trial.objective};
    low_y = std::min(low_y, point.y);
    if (trial.state == "completed") {
      completed.points.push_back(point);
      if (!best || (minimize ? point.y < best->y : point.y > best->y)) best = point;
    } else if (trial.state == "pruned") {
      chart.markers.push_back({point, "#ef6c00", ChartMarker::Shape::triangle,
                               fmt::format("trial {} pruned at {} = {}", trial.number, key, found->second)});
    }
  }
  if (completed.points.empty() && chart.markers.empty()) {
    throw std::invalid_argument("no trial of sweep " + std::to_string(sweep.id) + " has an objective yet");
  }
  // Failed trials have no objective: a cross on the lowest objective shown, at their value.
  for (const auto& trial : trials) {
    if (trial.state != "failed") continue;
    const auto values = trial_values(trial.params);
    const auto found = values.find(key);
    const auto x = found == values.end() ? std::nullopt : number_in(found->second);
    if (x) {
      chart.markers.push_back({{*x, low_y},
                               "#c00000",
                               ChartMarker::Shape::cross,
                               fmt::format("trial {} failed at {} = {}", trial.number, key, found->second)});
    }
  }
  // A learning rate or a weight decay spans decades: a log axis, when every value allows one.
  chart.log_x = low_x > 0 && high_x / low_x >= 20;
  if (best) chart.markers.push_back({*best, "#2e7d32", ChartMarker::Shape::circle, "the best trial"});
  chart.series.push_back(std::move(completed));
  chart.notes.push_back({"pruned trial, where it stopped", "#ef6c00", false, false, ChartMarker::Shape::triangle});
  chart.notes.push_back({"failed trial", "#c00000", false, false, ChartMarker::Shape::cross});
  return chart;
}

}  // namespace ft
