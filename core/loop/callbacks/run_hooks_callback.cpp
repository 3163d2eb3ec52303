#include "loop/callbacks/run_hooks_callback.h"

#include "log/log.h"

namespace ft {

void RunHooksCallback::on_steps(LoopState& state, const std::vector<StepRecord>& steps) {
  if (!after_step_) return;
  for (const auto& step : steps) {
    if (!step.skipped && after_step_(step.global_step, step.loss)) {
      state.end_now = true;  // no epoch summary, checkpoint or test
      return;
    }
  }
}

void RunHooksCallback::on_epoch_end(LoopState& state, EpochRecord& epoch) {
  // The pruner compares validation metrics, which the recorder (earlier in the list) has written by now.
  if (!prune_ || !epoch.evaluated) return;
  if (auto reason = prune_(epoch.epoch)) {
    log::info("pruned after epoch " + std::to_string(epoch.epoch) + ": " + *reason);
    state.rows.push_back(
        {"final", epoch.epoch, epoch.global_step, "pruned_at_epoch", static_cast<double>(epoch.epoch)});
    state.pruned = std::move(reason);
    state.stop = true;
  }
}

}  // namespace ft
