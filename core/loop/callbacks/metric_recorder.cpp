#include "loop/callbacks/metric_recorder.h"

#include <algorithm>

namespace ft {

void MetricRecorder::on_steps(LoopState& state, const std::vector<StepRecord>& steps) {
  auto& rows = state.rows;
  for (const auto& step : steps) {
    if (step.skipped) {
      rows.push_back({"step", step.epoch, step.global_step, "skipped_step", 1.0});
      rows.push_back({"step", step.epoch, step.global_step, "loss_scale", step.loss_scale});
      continue;
    }
    rows.push_back({"step", step.epoch, step.global_step, "train_loss", step.loss});  // NaN is stored as NULL
    if (step.grad_norm) rows.push_back({"step", step.epoch, step.global_step, "grad_norm", *step.grad_norm});
    peak_lr_.resize(step.learning_rates.size(), 0.0);
    for (std::size_t g = 0; g < state.group_names.size() && g < step.learning_rates.size(); ++g) {
      rows.push_back({"step", step.epoch, step.global_step, "lr/" + state.group_names[g], step.learning_rates[g]});
      peak_lr_[g] = std::max(peak_lr_[g], step.learning_rates[g]);
    }
    last_lr_ = step.learning_rates;
  }
}

void MetricRecorder::on_epoch_end(LoopState& state, EpochRecord& epoch) {
  auto& rows = state.rows;
  const auto e = epoch.epoch, step = epoch.global_step;
  // Each group's highest rate of the epoch, so that comparing by lr/GROUP reads a row per epoch, not per step.
  for (std::size_t g = 0; g < state.group_names.size() && g < peak_lr_.size(); ++g) {
    rows.push_back({"epoch", e, step, "lr/" + state.group_names[g], peak_lr_[g]});
  }
  if (!last_lr_.empty()) rows.push_back({"epoch", e, step, "lr", last_lr_.back()});
  rows.push_back({"epoch", e, step, "images_per_second", epoch.examples / epoch.seconds});
  rows.push_back({"epoch", e, step, "seconds", epoch.seconds});
  for (const auto& [name, value] : epoch.metrics) rows.push_back({"epoch", e, step, name, value});
  peak_lr_.assign(peak_lr_.size(), 0.0);
  flush(state);
}

void MetricRecorder::flush(LoopState& state) {
  if (state.rows.empty()) return;
  // Taken out first: a store write that throws must not leave the rows to be written twice.
  std::vector<MetricRow> rows;
  rows.swap(state.rows);
  record_(rows);
}

}  // namespace ft
