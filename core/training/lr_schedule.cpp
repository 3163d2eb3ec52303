#include "training/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace ft {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Cosine interpolation from `start` (pct 0) to `end` (pct 1), as PyTorch's OneCycleLR anneals.
double cosine(double start, double end, double pct) { return end + (start - end) / 2.0 * (std::cos(kPi * pct) + 1); }

}  // namespace

LrSchedule::LrSchedule(ScheduleConfig config, std::int64_t steps_per_epoch, std::int64_t epochs)
    : config_(std::move(config)),
      steps_per_epoch_(std::max<std::int64_t>(1, steps_per_epoch)),
      total_steps_(std::max<std::int64_t>(1, steps_per_epoch * epochs)),
      warmup_steps_(config_.type == "onecycle"
                        ? 0
                        : static_cast<std::int64_t>(std::llround(config_.warmup_epochs * steps_per_epoch_))) {}

double LrSchedule::factor(std::int64_t step) const {
  if (step < warmup_steps_) {
    return config_.warmup_start + (1 - config_.warmup_start) * static_cast<double>(step) / warmup_steps_;
  }
  return main_factor(step) * plateau_scale_;
}

double LrSchedule::main_factor(std::int64_t step) const {
  const std::int64_t epoch = step / steps_per_epoch_;  // 0-based epoch of this step
  const auto& c = config_;
  if (c.type == "step") return std::pow(c.gamma, static_cast<double>(epoch / c.step_size));
  if (c.type == "multistep") {
    const auto passed =
        std::count_if(c.milestones.begin(), c.milestones.end(), [&](std::int64_t m) { return epoch >= m; });
    return std::pow(c.gamma, static_cast<double>(passed));
  }
  if (c.type == "cosine") {
    // Over the steps after the warm-up, from 1 down to min_factor.
    const double span = static_cast<double>(std::max<std::int64_t>(1, total_steps_ - warmup_steps_));
    const double pct = std::min(1.0, static_cast<double>(step - warmup_steps_) / span);
    return c.min_factor + (1 - c.min_factor) * 0.5 * (1 + std::cos(kPi * pct));
  }
  if (c.type == "onecycle") {
    // PyTorch's OneCycleLR (two phases, cosine annealing), as a factor of the peak learning rate.
    const double initial = 1 / c.div_factor, final = initial / c.final_div_factor;
    const double rise_end = c.pct_start * static_cast<double>(total_steps_) - 1;
    const double last = static_cast<double>(total_steps_ - 1);
    const double s = static_cast<double>(step);
    if (s <= rise_end) return cosine(initial, 1.0, rise_end > 0 ? s / rise_end : 1.0);
    return cosine(1.0, final, std::min(1.0, (s - rise_end) / std::max(1e-12, last - rise_end)));
  }
  if (c.type == "lr_range") {
    const double t =
        std::min(1.0, static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, c.range_steps - 1)));
    return c.range_start * std::pow(c.range_end / c.range_start, t);
  }
  return 1;  // constant, plateau (its scale is applied in factor())
}

void LrSchedule::on_evaluation(bool improved) {
  if (config_.type != "plateau") return;
  if (improved) {
    bad_evaluations_ = 0;
    return;
  }
  if (++bad_evaluations_ > config_.plateau_patience) {
    plateau_scale_ *= config_.plateau_factor;
    bad_evaluations_ = 0;
  }
}

bool improves(const std::string& metric, const std::string& mode, double value, double best, double min_delta) {
  const bool lower_is_better = mode == "min" || (mode == "auto" && metric.find("loss") != std::string::npos);
  return lower_is_better ? value < best - min_delta : value > best + min_delta;
}

}  // namespace ft
