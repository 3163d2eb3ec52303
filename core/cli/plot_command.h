#pragma once
// `ftrun plot`: learning curves of several runs, or the best metric against a parameter's value, as SVG.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ft {

class ResultsStore;
struct Chart;

struct PlotOptions {
  std::vector<std::int64_t> runs;
  /// A parameter key: plot the best validation accuracy of every run against its value instead of curves.
  std::string compare;
  std::string name, stage;
  std::optional<std::int64_t> sweep;
  std::string metric = "loss";  // curves: "loss" or "accuracy"
  std::string output, store;
  bool log_y = false, linear_x = false;
  int patience = 3;
};

/// Train (dashed) and validation (solid) curves of `runs`, epochs on x, each run's best epoch and overfitting
/// onset marked.
Chart curves_chart(const ResultsStore& store, const PlotOptions& options);

/// One point per run: the best validation accuracy against the value of `options.compare`, stage by stage,
/// with the mean per value joined by a line, the best value marked, diverged and failed runs shown as crosses.
Chart compare_chart(const ResultsStore& store, const PlotOptions& options);

/// Writes the chart the options ask for to `options.output`; returns the exit code.
int command_plot(const PlotOptions& options);

}  // namespace ft
