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
  // "train loss 0.4321 acc 0.8765 | val loss ...": the loss, then the task's metrics (accuracy shortened).
  auto split = [&](const std::string& prefix) {
    std::string text = fmt::format("{} loss {:.4f}", prefix, epoch.metrics[prefix + "_loss"]);
    for (const auto& name : state.metrics) {
      // Looked up, not inserted: a metric the task computes only in evaluation (COCO's mAP) is absent in training.
      const auto found = epoch.metrics.find(prefix + "_" + name);
      if (found != epoch.metrics.end())
        text += fmt::format(" {} {:.4f}", name == "accuracy" ? "acc" : name, found->second);
    }
    return text;
  };
  std::string summary = fmt::format("epoch {}/{}: {}", epoch.epoch, state.epochs, split("train"));
  if (epoch.evaluated) summary += " | " + split("val");
  log::info(fmt::format("{} | {:.0f} examples/s, {:.1f} s", summary, epoch.examples / epoch.seconds, epoch.seconds));
}

void ProgressReporter::on_halt(LoopState&) {
  if (progress_) progress_->clear();
}

}  // namespace ft
