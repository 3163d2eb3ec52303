#pragma once
// A caller's hooks on a run: a sweep's pruner after each evaluation, and the learning-rate range test's check
// after each step (which makes the loop read every step back).

#include "loop/callback.h"

#include <functional>
#include <optional>
#include <string>

namespace ft {

class RunHooksCallback : public Callback {
 public:
  RunHooksCallback(std::function<std::optional<std::string>(std::int64_t epoch)> prune,
                   std::function<bool(std::int64_t global_step, double loss)> after_step)
      : prune_(std::move(prune)), after_step_(std::move(after_step)) {}
  void on_steps(LoopState& state, const std::vector<StepRecord>& steps) override;
  void on_epoch_end(LoopState& state, EpochRecord& epoch) override;

 private:
  std::function<std::optional<std::string>(std::int64_t)> prune_;
  std::function<bool(std::int64_t, double)> after_step_;
};

}  // namespace ft
