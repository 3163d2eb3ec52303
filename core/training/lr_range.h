#pragma once
// The learning-rate range test (`ftrun lr-find`, docs/sweeps.md): the loss smoothed as it is recorded, when to
// stop, and the rates the curve suggests. Plain C++ (no LibTorch), tested on hand-made curves: noisy losses and
// NaNs are where fastai's and Lightning's finders give absurd suggestions (fastai #3476, Lightning #14248).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ft {

/// Follows the loss step by step: an exponential moving average with bias correction (the first values are not
/// pulled towards zero), and the signal to stop once it exceeds `stop_factor` times its minimum or is not finite.
class LrRangeMonitor {
 public:
  LrRangeMonitor(double smoothing, double stop_factor) : smoothing_(smoothing), stop_factor_(stop_factor) {}
  /// Adds a step's loss; true when the test should stop.
  bool add(double loss);
  const std::vector<double>& smoothed() const { return smoothed_; }

 private:
  double smoothing_, stop_factor_;
  double average_ = 0, minimum_ = 0;
  std::vector<double> smoothed_;
};

struct LrSuggestions {
  /// Where the smoothed loss falls fastest against log(lr), before its minimum.
  std::optional<double> steepest;
  /// The rate of the smoothed minimum, divided by 10.
  std::optional<double> minimum_over_10;
  /// fastai's valley rule: two thirds of the way down the longest stretch of falling loss.
  std::optional<double> valley;
  /// Which of the three to use, and why, in one sentence.
  std::string recommendation;
};

/// The suggestions from rates `lrs` and the smoothed losses at them (the same length, rates increasing).
LrSuggestions suggest_learning_rates(const std::vector<double>& lrs, const std::vector<double>& smoothed);

/// The curve as text, `width` x `height` characters, log-rate on x, for a terminal.
std::string text_plot(const std::vector<double>& lrs, const std::vector<double>& smoothed, int width = 64,
                      int height = 14);

}  // namespace ft
