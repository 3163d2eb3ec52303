#include "loop/callbacks/progress_reporter.h"

#include "log/log.h"

#include <fmt/format.h>

namespace ft {

void ProgressReporter::on_train_start(LoopState& state) {
  progress_ = std::make_unique<Progress>(state.epochs, state.steps_per_epoch);
}

void ProgressReporter::before_step(LoopState& state) {
  if (state.epoch == started_epoch_) return;
  started_epoch_ = state.epoch;
  progress_->start_epoch(state.epoch);
}

void ProgressReporter::on_steps(LoopState& state, const std::vector<StepRecord>& steps) {
  if (steps.empty()) return;
  const std::int64_t in_epoch = state.global_step - (state.epoch - 1) * state.steps_per_epoch;
  progress_->step(in_epoch, steps.back().loss, state.epoch_examples);
}

void ProgressReporter::on_epoch_end(LoopState& state, EpochRecord& epoch) {
  progress_->clear();
  std::string summary = fmt::format("epoch {}/{}: train loss {:.4f} acc {:.4f}", epoch.epoch, state.epochs,
                                    epoch.metrics["train_loss"], epoch.metrics["train_accuracy"]);
  if (epoch.evaluated) {
    summary += fmt::format(" | val loss {:.4f} acc {:.4f}", epoch.metrics["val_loss"], epoch.metrics["val_accuracy"]);
  }
  log::info(fmt::format("{} | {:.0f} img/s, {:.1f} s", summary, epoch.examples / epoch.seconds, epoch.seconds));
}

void ProgressReporter::on_halt(LoopState&) {
  if (progress_) progress_->clear();
}

}  // namespace ft
