#pragma once
// Learning-rate schedules as a factor on every parameter group's base learning rate, per optimizer step.
// Independent of LibTorch so the arithmetic is tested directly against hand-computed values.

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace ft {

/// `[schedule]`: the type and its parameters; see docs/experiments.md.
struct ScheduleConfig {
  std::string type = "constant";         // constant | step | multistep | cosine | onecycle | plateau
  double warmup_epochs = 0;              // linear warm-up in front of any type but onecycle
  double warmup_start = 0.01;            // factor at the first warm-up step
  std::int64_t step_size = 1;            // step: decay every step_size epochs
  std::vector<std::int64_t> milestones;  // multistep: epochs at which to decay
  double gamma = 0.1;                    // step, multistep: decay factor
  double min_factor = 0;                 // cosine: final factor
  double pct_start = 0.3;                // onecycle: share of the steps spent rising
  double div_factor = 25;                // onecycle: peak / initial
  double final_div_factor = 1e4;         // onecycle: initial / final
  double plateau_factor = 0.1;           // plateau: decay on a plateau
  std::int64_t plateau_patience = 2;     // plateau: evaluations without improvement before decaying
  // lr_range (the range test of ftrun lr-find, not an experiment key): from range_start to range_end times the
  // base rate, exponentially over range_steps steps
  double range_start = 1e-4, range_end = 10;
  std::int64_t range_steps = 100;
};

class LrSchedule {
 public:
  LrSchedule(ScheduleConfig config, std::int64_t steps_per_epoch, std::int64_t epochs);

  /// Factor for optimizer step `step` (0-based, counted over the whole run).
  double factor(std::int64_t step) const;

  /// After an evaluation: `improved` says whether the monitored metric improved (plateau only).
  void on_evaluation(bool improved);

  /// What an evaluation changed (plateau), for checkpoints: {scale, evaluations without improvement}.
  std::pair<double, std::int64_t> state() const { return {plateau_scale_, bad_evaluations_}; }
  void restore(std::pair<double, std::int64_t> state) { std::tie(plateau_scale_, bad_evaluations_) = state; }

 private:
  double main_factor(std::int64_t step) const;

  ScheduleConfig config_;
  std::int64_t steps_per_epoch_, total_steps_, warmup_steps_;
  double plateau_scale_ = 1;
  std::int64_t bad_evaluations_ = 0;
};

/// Whether `value` improves on `best` by more than `min_delta`. `mode` is "min", "max", or "auto": lower is
/// better for metrics named like a loss, higher otherwise.
bool improves(const std::string& metric, const std::string& mode, double value, double best, double min_delta);

}  // namespace ft
