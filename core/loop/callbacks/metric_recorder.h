#pragma once
// Turns what the loop reports into the store's metric rows (per step, per epoch, final) and hands them to
// `record`: at the end of every epoch (before a pruner reads them), after the checkpoint, and when training
// halts, so nothing read back is lost.

#include "loop/callback.h"

#include <functional>

namespace ft {

class MetricRecorder : public Callback {
 public:
  explicit MetricRecorder(std::function<void(const std::vector<MetricRow>&)> record) : record_(std::move(record)) {}
  void on_steps(LoopState& state, const std::vector<StepRecord>& steps) override;
  void on_epoch_end(LoopState& state, EpochRecord& epoch) override;
  void on_checkpoint(LoopState& state, const TensorMap&) override { flush(state); }
  void on_train_end(LoopState& state) override { flush(state); }
  void on_halt(LoopState& state) override { flush(state); }

 private:
  void flush(LoopState& state);
  std::function<void(const std::vector<MetricRow>&)> record_;
  std::vector<double> peak_lr_, last_lr_;
};

}  // namespace ft
