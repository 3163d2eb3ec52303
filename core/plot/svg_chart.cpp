#include "plot/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace ft {
namespace {

constexpr double kLeft = 80, kRight = 280, kTop = 50, kBottom = 60;  // margins around the plot area, in pixels
constexpr double kCharWidth = 7;  // a generous average width of a 12 px sans-serif character, for the legend

std::string escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string tick_label(double value) {
  if (value == 0) return "0";
  return fmt::format("{:.6g}", value);
}

// One axis: the data range it shows and where that lands on screen.
class Axis {
 public:
  Axis(double low, double high, bool log, double from_px, double to_px) : log_(log), from_px_(from_px), to_px_(to_px) {
    if (log && low <= 0) throw std::invalid_argument("a log axis cannot show values that are not positive");
    if (low == high) {  // one value: a small range around it
      const double pad = low == 0 ? 1 : std::abs(low) * 0.1;
      low = log ? low / 2 : low - pad;
      high = log ? high * 2 : high + pad;
    } else if (log) {
      low /= 1.25;
      high *= 1.25;
    } else {
      const double pad = (high - low) * 0.05;
      low -= pad;
      high += pad;
    }
    low_ = low;
    high_ = high;
  }

  double px(double value) const {
    const double t = log_ ? (std::log10(value) - std::log10(low_)) / (std::log10(high_) - std::log10(low_))
                          : (value - low_) / (high_ - low_);
    return from_px_ + t * (to_px_ - from_px_);
  }
  std::vector<double> ticks() const { return axis_ticks(low_, high_, log_); }
  bool shows(double value) const { return std::isfinite(value) && (!log_ || value > 0); }

 private:
  bool log_;
  double low_ = 0, high_ = 1, from_px_, to_px_;
};

struct Bounds {
  double low = std::numeric_limits<double>::infinity(), high = -std::numeric_limits<double>::infinity();
  void add(double value, bool log) {
    if (!std::isfinite(value) || (log && value <= 0)) return;
    low = std::min(low, value);
    high = std::max(high, value);
  }
  bool empty() const { return low > high; }
};

std::string marker_svg(const ChartMarker::Shape shape, double x, double y, const std::string& color) {
  switch (shape) {
    case ChartMarker::Shape::circle:
      return fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="5" fill="white" stroke="{}" stroke-width="2"/>)", x, y,
                         color);
    case ChartMarker::Shape::triangle:
      return fmt::format(R"(<polygon points="{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}" fill="{}"/>)", x, y - 6, x - 6,
                         y + 5, x + 6, y + 5, color);
    case ChartMarker::Shape::cross:
      return fmt::format(
          R"(<path d="M{:.1f},{:.1f}L{:.1f},{:.1f}M{:.1f},{:.1f}L{:.1f},{:.1f}" stroke="{}" stroke-width="2.5"/>)",
          x - 5, y - 5, x + 5, y + 5, x - 5, y + 5, x + 5, y - 5, color);
  }
  return "";
}

}  // namespace

std::vector<double> axis_ticks(double low, double high, bool log) {
  std::vector<double> ticks;
  if (!(low < high)) return ticks;
  if (log) {
    const int first = static_cast<int>(std::floor(std::log10(low)));
    const int last = static_cast<int>(std::ceil(std::log10(high)));
    // Few decades: 1, 2 and 5 of each; a range inside one decade: every multiple.
    // Many decades: every second, fifth or tenth power, so that about eight labels remain.
    const std::vector<double> steps = last - first > 3 ? std::vector<double>{1} : std::vector<double>{1, 2, 5};
    const int stride = last - first > 8 ? (last - first > 20 ? 5 : 2) * (last - first > 40 ? 2 : 1) : 1;
    for (int decade = first; decade <= last; ++decade) {
      if ((decade - first) % stride != 0) continue;
      for (const double step : steps) {
        const double value = step * std::pow(10.0, decade);
        if (value >= low && value <= high) ticks.push_back(value);
      }
    }
    if (ticks.size() < 2) {
      ticks.clear();
      for (int decade = first; decade <= last; ++decade) {
        for (int step = 1; step <= 9; ++step) {
          const double value = step * std::pow(10.0, decade);
          if (value >= low && value <= high) ticks.push_back(value);
        }
      }
    }
    return ticks;
  }
  const double rough = (high - low) / 6;
  const int exponent = static_cast<int>(std::floor(std::log10(rough)));
  const double magnitude = std::pow(10.0, exponent);
  double factor = 1;
  for (const double candidate : {1.0, 2.0, 5.0, 10.0}) {
    factor = candidate;
    if (factor * magnitude >= rough) break;
  }
  const double step = factor * magnitude;
  // Each tick is k x factor scaled by a power of ten, computed afresh, dividing for negative powers: 6 x 5 / 100
  // is 0.3, where 6 x 0.05 is 0.30000000000000004.
  const double scale = std::pow(10.0, std::abs(exponent));
  for (auto k = static_cast<long long>(std::ceil(low / step - 1e-9)); k * step <= high + step * 1e-9; ++k) {
    const double multiple = static_cast<double>(k) * factor;
    ticks.push_back(exponent < 0 ? multiple / scale : multiple * scale);
  }
  return ticks;
}

std::string palette_color(std::size_t index) {
  static const char* colors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                 "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  return colors[index % 10];
}

std::string render_svg(const Chart& chart) {
  Bounds xs, ys;
  for (const auto& series : chart.series) {
    for (const auto& point : series.points) {
      if (!std::isfinite(point.y) || !std::isfinite(point.x)) continue;
      xs.add(point.x, chart.log_x);
      ys.add(point.y, chart.log_y);
    }
  }
  for (const auto& marker : chart.markers) {
    xs.add(marker.at.x, chart.log_x);
    ys.add(marker.at.y, chart.log_y);
  }
  if (xs.empty() || ys.empty()) throw std::invalid_argument("nothing to plot: no finite values");
  // The legend is as wide as its longest line: the picture grows to the right rather than cut a label.
  std::size_t longest = 0;
  for (const auto& series : chart.series) longest = std::max(longest, series.label.size());
  for (const auto& note : chart.notes) longest = std::max(longest, note.text.size());
  const double legend = std::max(kRight, 60 + kCharWidth * static_cast<double>(longest));
  const double width = chart.width - kRight + legend, height = chart.height;  // the plot area keeps its size
  const double right = width - legend, bottom = height - kBottom;
  const Axis x_axis(xs.low, xs.high, chart.log_x, kLeft, right);
  const Axis y_axis(ys.low, ys.high, chart.log_y, bottom, kTop);

  std::string svg =
      fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
                  R"(font-family="DejaVu Sans, Arial, sans-serif" font-size="12">)"
                  "\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
                  width, chart.height);
  svg += fmt::format(R"(<text x="{:.1f}" y="28" font-size="16" text-anchor="middle">{}</text>)", (kLeft + right) / 2,
                     escaped(chart.title)) +
         "\n";
  // Grid and tick labels.
  for (const double tick : x_axis.ticks()) {
    const double x = x_axis.px(tick);
    svg +=
        fmt::format(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="#e5e5e5"/>)", x, kTop, bottom);
    svg +=
        fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)", x, bottom + 18, tick_label(tick)) +
        "\n";
  }
  for (const double tick : y_axis.ticks()) {
    const double y = y_axis.px(tick);
    svg +=
        fmt::format(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{2:.1f}" y2="{1:.1f}" stroke="#e5e5e5"/>)", kLeft, y, right);
    svg +=
        fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end">{}</text>)", kLeft - 8, y + 4, tick_label(tick)) +
        "\n";
  }
  svg += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="#333"/>)", kLeft,
                     kTop, right - kLeft, bottom - kTop) +
         "\n";
  svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)", (kLeft + right) / 2, height - 16,
                     escaped(chart.x_label + (chart.log_x ? " (log scale)" : ""))) +
         "\n";
  svg += fmt::format(R"svg(<text transform="translate(20 {:.1f}) rotate(-90)" text-anchor="middle">{}</text>)svg",
                     (kTop + bottom) / 2, escaped(chart.y_label + (chart.log_y ? " (log scale)" : ""))) +
         "\n";

  // Series, clipped to the plot area; a line is broken where a value is missing.
  svg += fmt::format(R"(<clipPath id="plot-area"><rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"/>)"
                     "</clipPath>\n<g clip-path=\"url(#plot-area)\">\n",
                     kLeft, kTop, right - kLeft, bottom - kTop);
  for (const auto& series : chart.series) {
    std::string run;
    std::size_t run_points = 0;
    auto flush = [&] {
      if (run.empty()) return;
      if (run_points == 1) {  // a line of one point would not show: a dot instead
        const auto comma = run.find(',');
        svg += fmt::format(R"(<circle cx="{}" cy="{}" r="3" fill="{}"/>)", run.substr(0, comma), run.substr(comma + 1),
                           series.color) +
               "\n";
        run.clear();
        run_points = 0;
        return;
      }
      svg += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2"{} points="{}"/>)", series.color,
                         series.dashed ? R"( stroke-dasharray="6 4")" : "", run) +
             "\n";
      run.clear();
      run_points = 0;
    };
    for (const auto& point : series.points) {
      if (!x_axis.shows(point.x) || !y_axis.shows(point.y)) {
        flush();
        continue;
      }
      const double x = x_axis.px(point.x), y = y_axis.px(point.y);
      if (series.scatter) {
        svg +=
            fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="4" fill="{}" fill-opacity="0.8"/>)", x, y, series.color) +
            "\n";
      } else {
        run += fmt::format("{}{:.1f},{:.1f}", run.empty() ? "" : " ", x, y);
        ++run_points;
      }
    }
    flush();
  }
  svg += "</g>\n";
  for (const auto& marker : chart.markers) {
    if (!x_axis.shows(marker.at.x) || !y_axis.shows(marker.at.y)) continue;
    svg += "<g><title>" + escaped(marker.tooltip) + "</title>" +
           marker_svg(marker.shape, x_axis.px(marker.at.x), y_axis.px(marker.at.y), marker.color) + "</g>\n";
  }

  // Legend: one line per labelled series, then the notes that explain styles and marks.
  double y = kTop + 10;
  const double x = right + 20;
  auto legend_line = [&](const std::string& text, const std::string& color, bool dashed, bool line, bool scatter,
                         ChartMarker::Shape shape, bool shape_mark) {
    if (line) {
      svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="2"{}/>)", x,
                         y, x + 28, y, color, dashed ? R"( stroke-dasharray="6 4")" : "");
    }
    if (scatter) svg += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="4" fill="{}"/>)", x + 14, y, color);
    if (shape_mark) svg += marker_svg(shape, x + 14, y, color);
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}">{}</text>)", x + 36, y + 4, escaped(text)) + "\n";
    y += 20;
  };
  for (const auto& series : chart.series) {
    if (series.label.empty()) continue;
    legend_line(series.label, series.color, series.dashed, !series.scatter, series.scatter, ChartMarker::Shape::circle,
                false);
  }
  if (!chart.notes.empty()) y += 8;
  for (const auto& note : chart.notes)
    legend_line(note.text, note.color, note.dashed, note.line, false, note.shape, !note.line);
  svg += "</svg>\n";
  return svg;
}

}  // namespace ft
