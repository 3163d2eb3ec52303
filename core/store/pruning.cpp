#include "store/pruning.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace ft {

std::optional<std::string> median_decision(const PrunerConfig& config, std::int64_t epoch, double own,
                                           const std::vector<double>& others, bool minimize) {
  if (epoch < config.warmup_epochs || static_cast<std::int64_t>(others.size()) < config.startup_trials) {
    return std::nullopt;
  }
  if (!std::isfinite(own)) return fmt::format("its metric is {} at epoch {}", own, epoch);
  std::vector<double> sorted = others;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const bool worse = minimize ? own > median : own < median;
  if (!worse) return std::nullopt;
  return fmt::format("median pruner: best {:.4f} by epoch {} is worse than the median {:.4f} of {} completed trial(s)",
                     own, epoch, median, n);
}

std::optional<std::int64_t> asha_rung(const PrunerConfig& config, std::int64_t previous_evaluation,
                                      std::int64_t epoch) {
  std::optional<std::int64_t> reached;
  for (std::int64_t rung = config.grace_period; rung <= epoch; rung *= config.reduction_factor) {
    if (rung > previous_evaluation) reached = rung;
    if (config.reduction_factor < 2) break;
  }
  return reached;
}

std::optional<std::string> asha_decision(const PrunerConfig& config, std::int64_t rung, double own,
                                         const std::vector<double>& reached, bool minimize) {
  if (static_cast<std::int64_t>(reached.size()) < config.reduction_factor) return std::nullopt;
  if (!std::isfinite(own)) return fmt::format("its metric is {} at rung epoch {}", own, rung);
  std::vector<double> sorted = reached;
  std::sort(sorted.begin(), sorted.end());
  if (!minimize) std::reverse(sorted.begin(), sorted.end());
  const std::size_t keep = std::max<std::size_t>(1, sorted.size() / static_cast<std::size_t>(config.reduction_factor));
  const double cutoff = sorted[keep - 1];
  const bool kept = minimize ? own <= cutoff : own >= cutoff;
  if (kept) return std::nullopt;
  return fmt::format(
      "asha: at rung epoch {}, best {:.4f} is not among the best {} of {} trial(s) there (cutoff {:.4f})", rung, own,
      keep, sorted.size(), cutoff);
}

}  // namespace ft
