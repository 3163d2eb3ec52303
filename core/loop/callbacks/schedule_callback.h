#pragma once
// The learning-rate schedule: sets every parameter group's rate before each step (its base rate times the
// schedule's factor), and tells a plateau schedule whether the monitored metric improved.

#include "loop/callback.h"
#include "training/lr_schedule.h"

#include <torch/optim/optimizer.h>

namespace ft {

class ScheduleCallback : public Callback {
 public:
  /// The base rates are the optimizer's rates now, before any checkpoint replaces its options.
  ScheduleCallback(torch::optim::Optimizer& optimizer, const ScheduleConfig& config, std::int64_t steps_per_epoch,
                   std::int64_t epochs);
  void before_step(LoopState& state) override;
  void on_epoch_end(LoopState& state, EpochRecord& epoch) override;
  void save(TensorMap& checkpoint) const override;
  void load(const TensorMap& checkpoint) override;

 private:
  torch::optim::Optimizer& optimizer_;
  LrSchedule schedule_;
  std::vector<double> base_lrs_;
};

}  // namespace ft
