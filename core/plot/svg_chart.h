#pragma once
// A small SVG line and scatter chart: axes with "nice" ticks (linear or log), series drawn as lines or points,
// point markers with tooltips, and a legend. Plain C++ with no dependencies, so `ftrun plot` writes a file any
// browser opens and the drawing is unit-tested on its own.

#include <string>
#include <vector>

namespace ft {

struct ChartPoint {
  double x = 0, y = 0;
};

struct ChartSeries {
  std::string label;  // in the legend; empty = not listed
  std::string color;  // any SVG color
  std::vector<ChartPoint> points;
  bool dashed = false;
  /// Points only (a scatter), not a line.
  bool scatter = false;
};

/// A mark on one point: a run's best epoch, an overfitting onset, a diverged run.
struct ChartMarker {
  enum class Shape { circle, triangle, cross };
  ChartPoint at;
  std::string color;
  Shape shape = Shape::circle;
  std::string tooltip;  // shown on hover (an SVG <title>)
};

/// A legend line that explains a style rather than a series ("dashed: training").
struct ChartNote {
  std::string text;
  std::string color = "#444";
  bool dashed = false;
  bool line = true;
  ChartMarker::Shape shape = ChartMarker::Shape::circle;
};

struct Chart {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  std::vector<ChartSeries> series;
  std::vector<ChartMarker> markers;
  std::vector<ChartNote> notes;
  int width = 960, height = 600;
};

/// Tick positions covering [low, high]: 1-2-5 steps for a linear axis, powers of ten (with 2 and 5 between
/// them when the range is short) for a log axis. Needs low < high (and low > 0 for a log axis).
std::vector<double> axis_ticks(double low, double high, bool log);

/// The chart as an SVG document. Throws std::invalid_argument when there is nothing to draw, or a log axis
/// would hold a value that is not positive.
std::string render_svg(const Chart& chart);

/// A color from a palette of ten that stay distinct (Tableau 10), by index.
std::string palette_color(std::size_t index);

}  // namespace ft
