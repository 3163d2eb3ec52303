#include "loop/callbacks/schedule_callback.h"

#include "model/training_state.h"

namespace ft {

ScheduleCallback::ScheduleCallback(torch::optim::Optimizer& optimizer, const ScheduleConfig& config,
                                   std::int64_t steps_per_epoch, std::int64_t epochs)
    : optimizer_(optimizer), schedule_(config, steps_per_epoch, epochs) {
  for (auto& group : optimizer_.param_groups()) base_lrs_.push_back(group.options().get_lr());
}

void ScheduleCallback::before_step(LoopState& state) {
  const double factor = schedule_.factor(state.global_step);
  for (std::size_t g = 0; g < base_lrs_.size(); ++g) {
    optimizer_.param_groups()[g].options().set_lr(base_lrs_[g] * factor);
  }
}

void ScheduleCallback::on_epoch_end(LoopState&, EpochRecord& epoch) {
  if (epoch.improved) schedule_.on_evaluation(*epoch.improved);
}

void ScheduleCallback::save(TensorMap& checkpoint) const {
  const auto [scale, bad] = schedule_.state();
  put_state(checkpoint, "schedule", {scale, static_cast<double>(bad)});
}

void ScheduleCallback::load(const TensorMap& checkpoint) {
  const auto values = require_state(checkpoint, "schedule");
  schedule_.restore({values.at(0), static_cast<std::int64_t>(values.at(1))});
}

}  // namespace ft
