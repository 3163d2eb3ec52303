#pragma once
// The live progress line while an epoch trains, and the epoch's summary line after it.

#include "loop/callback.h"
#include "loop/progress.h"

#include <memory>

namespace ft {

class ProgressReporter : public Callback {
 public:
  void on_train_start(LoopState& state) override;
  void before_step(LoopState& state) override;
  void on_steps(LoopState& state, const std::vector<StepRecord>& steps) override;
  void on_epoch_end(LoopState& state, EpochRecord& epoch) override;
  void on_halt(LoopState&) override;

 private:
  std::unique_ptr<Progress> progress_;
  std::int64_t started_epoch_ = -1;
};

}  // namespace ft
