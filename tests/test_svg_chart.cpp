// The SVG chart behind ftrun plot: ticks a reader can use, log axes, markers and a legend, text escaped.
#include "plot/svg_chart.h"

#include <catch2/catch.hpp>

#include <regex>

using Catch::Matchers::Contains;

namespace {

bool near(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i] != Approx(want[i]).margin(1e-12)) return false;
  }
  return true;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

ft::Chart two_curves() {
  ft::Chart chart;
  chart.title = "curves <&>";
  chart.x_label = "epoch";
  chart.y_label = "loss";
  chart.series.push_back({"train", "#111", {{1, 1.0}, {2, 0.5}, {3, 0.25}}, true, false});
  chart.series.push_back({"validation",
                          "#222",
                          {{1, 1.1}, {2, 1.0}, {3, std::nan("")}, {4, 0.8}, {5, 0.7}, {6, std::nan("")}, {7, 0.9}},
                          false,
                          false});
  chart.markers.push_back({{3, 0.7}, "#222", ft::ChartMarker::Shape::circle, "best epoch 3"});
  chart.notes.push_back({"dashed: training", "#444", true});
  return chart;
}

}  // namespace

TEST_CASE("linear ticks step by 1, 2 or 5 times a power of ten and cover the range", "[plot]") {
  CHECK(near(ft::axis_ticks(0, 10, false), {0, 2, 4, 6, 8, 10}));
  CHECK(near(ft::axis_ticks(0.05, 0.31, false), {0.05, 0.1, 0.15, 0.2, 0.25, 0.3}));
  CHECK(ft::axis_ticks(0.05, 0.31, false)[5] == 0.3);  // no rounding error accumulated
  const auto ticks = ft::axis_ticks(-1, 1, false);
  CHECK(std::find(ticks.begin(), ticks.end(), 0.0) != ticks.end());
  CHECK(ft::axis_ticks(1, 1, false).empty());
}

TEST_CASE("log ticks are powers of ten, with 2 and 5 between them over short ranges", "[plot]") {
  CHECK(near(ft::axis_ticks(1e-5, 1, true), {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1}));
  CHECK(near(ft::axis_ticks(0.0008, 0.04, true), {0.001, 0.002, 0.005, 0.01, 0.02}));
  CHECK(ft::axis_ticks(0.3, 0.6, true).size() >= 2);  // inside one decade: every multiple
}

TEST_CASE("a chart becomes one SVG document with axes, lines broken at gaps, markers and a legend", "[plot]") {
  const std::string svg = ft::render_svg(two_curves());
  CHECK_THAT(svg, Contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK(count(svg, "</svg>") == 1);
  CHECK_THAT(svg, Contains("curves &lt;&amp;&gt;"));  // text is escaped
  CHECK(count(svg, "<polyline") == 3);                // train, and validation broken at its missing epochs
  CHECK(count(svg, "r=\"3\"") == 1);                  // its last stretch of a single point is a dot
  CHECK_THAT(svg, Contains("stroke-dasharray"));
  CHECK_THAT(svg, Contains("<title>best epoch 3</title>"));
  CHECK_THAT(svg, Contains(">validation<") && Contains(">dashed: training<"));
  CHECK_THAT(svg, Contains(">epoch<") && Contains(">loss<"));
  // Every coordinate is a finite number inside the picture.
  const std::regex coordinate("(?:cx|cy|x1|x2|y1|y2|x|y)=\"(-?[0-9.]+)\"");
  const std::string text = svg;
  for (std::sregex_iterator it(text.begin(), text.end(), coordinate), end; it != end; ++it) {
    const double value = std::stod((*it)[1]);
    CHECK(value >= 0);
    CHECK(value <= 960);
  }
}

TEST_CASE("a log axis says so, and refuses what it cannot show", "[plot]") {
  ft::Chart chart = two_curves();
  chart.log_y = true;
  CHECK_THAT(ft::render_svg(chart), Contains("loss (log scale)"));
  chart.series[0].points.push_back({4, -1});  // not shown on a log axis, and not an error: skipped
  CHECK_NOTHROW(ft::render_svg(chart));
  ft::Chart empty;
  CHECK_THROWS_AS(ft::render_svg(empty), std::invalid_argument);
}
