#include "training/lr_range.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ft {

bool LrRangeMonitor::add(double loss) {
  if (!std::isfinite(loss)) return true;
  average_ = smoothing_ * average_ + (1 - smoothing_) * loss;
  const double value = average_ / (1 - std::pow(smoothing_, static_cast<double>(smoothed_.size() + 1)));
  smoothed_.push_back(value);
  if (smoothed_.size() == 1 || value < minimum_) minimum_ = value;
  return !std::isfinite(value) || value > stop_factor_ * minimum_;
}

LrSuggestions suggest_learning_rates(const std::vector<double>& lrs, const std::vector<double>& smoothed) {
  LrSuggestions out;
  const std::size_t n = std::min(lrs.size(), smoothed.size());
  if (n < 5) {
    out.recommendation = "too few steps to suggest a rate; run with more --steps";
    return out;
  }
  const std::size_t lowest = static_cast<std::size_t>(
      std::min_element(smoothed.begin(), smoothed.begin() + static_cast<std::ptrdiff_t>(n)) - smoothed.begin());
  out.minimum_over_10 = lrs[lowest] / 10;
  // Steepest descent before the minimum, skipping the first tenth (the average is still settling there).
  const std::size_t first = std::max<std::size_t>(1, n / 10);
  double steepest = 0;
  for (std::size_t i = first; i + 1 < n && i < lowest; ++i) {
    const double slope = (smoothed[i + 1] - smoothed[i - 1]) / (std::log10(lrs[i + 1]) - std::log10(lrs[i - 1]));
    if (slope < steepest) {
      steepest = slope;
      out.steepest = lrs[i];
    }
  }
  // fastai's valley: the longest decreasing subsequence of the loss, and a point two thirds of the way into it.
  std::vector<std::size_t> length(n, 1);
  std::size_t end = 0;
  for (std::size_t i = 1; i < n; ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (smoothed[i] < smoothed[j] && length[i] < length[j] + 1) length[i] = length[j] + 1;
    }
    if (length[i] > length[end]) end = i;
  }
  const std::size_t start = end + 1 - length[end];
  if (length[end] >= 3) {
    const double sections = static_cast<double>(end - start) / 3;
    out.valley =
        lrs[std::min(n - 1, start + static_cast<std::size_t>(sections) + static_cast<std::size_t>(sections / 2))];
  }
  if (lowest < first) {
    out.recommendation =
        "the loss never fell: the range starts too high or the model does not learn; try a smaller --start";
  } else if (out.valley) {
    out.recommendation =
        "valley: it sits inside the longest stretch of falling loss, so one noisy step cannot move it the way it "
        "moves the steepest point";
  } else if (out.steepest) {
    out.recommendation = "steepest: the loss fell too little for a valley";
  } else {
    out.recommendation = "minimum/10: the loss fell, but too unevenly for the other rules";
  }
  return out;
}

std::string text_plot(const std::vector<double>& lrs, const std::vector<double>& smoothed, int width, int height) {
  const std::size_t n = std::min(lrs.size(), smoothed.size());
  if (n < 2) return "";
  const double x0 = std::log10(lrs.front()), x1 = std::log10(lrs[n - 1]);
  double low = *std::min_element(smoothed.begin(), smoothed.begin() + static_cast<std::ptrdiff_t>(n));
  // The curve rises steeply at its end; the top of the plot is the starting loss, so the descent stays visible.
  double high = std::max(smoothed.front(), low + 1e-12);
  std::vector<std::string> grid(static_cast<std::size_t>(height), std::string(static_cast<std::size_t>(width), ' '));
  for (std::size_t i = 0; i < n; ++i) {
    const int column = static_cast<int>(std::lround((std::log10(lrs[i]) - x0) / (x1 - x0) * (width - 1)));
    const double t = std::min(1.0, (smoothed[i] - low) / (high - low));
    const int row = height - 1 - static_cast<int>(std::lround(t * (height - 1)));
    grid[static_cast<std::size_t>(row)][static_cast<std::size_t>(std::clamp(column, 0, width - 1))] = '*';
  }
  std::string out;
  char label[32];
  for (int r = 0; r < height; ++r) {
    const double value = high - (high - low) * r / (height - 1);
    std::snprintf(label, sizeof label, "%9.4f |", value);
    out += label + grid[static_cast<std::size_t>(r)] + "\n";
  }
  out += std::string(10, ' ') + "+" + std::string(static_cast<std::size_t>(width), '-') + "\n";
  std::snprintf(label, sizeof label, "%-12.3g", lrs.front());
  out += std::string(11, ' ') + label + std::string(static_cast<std::size_t>(std::max(0, width - 24)), ' ');
  std::snprintf(label, sizeof label, "%12.3g", lrs[n - 1]);
  out += std::string(label) + "  (learning rate, log scale)\n";
  return out;
}

}  // namespace ft
