#include "loop/callbacks/early_stopping.h"

#include "log/log.h"
#include "model/training_state.h"

#include <fmt/format.h>

namespace ft {

void EarlyStopping::on_epoch_end(LoopState& state, EpochRecord& epoch) {
  if (!epoch.improved) return;  // the monitored metric was not measured this epoch
  if (*epoch.improved) {
    evaluations_without_improvement_ = 0;
    return;
  }
  if (patience_ > 0 && ++evaluations_without_improvement_ >= patience_) {
    log::info(fmt::format("early stopping: {} has not improved for {} evaluations (best {:.4f})", state.monitor,
                          patience_, state.best.value_or(0.0)));
    state.rows.push_back(
        {"final", epoch.epoch, epoch.global_step, "stopped_early_at_epoch", static_cast<double>(epoch.epoch)});
    state.stop = true;
  }
}

void EarlyStopping::save(TensorMap& checkpoint) const {
  put_state(checkpoint, "evaluations_without_improvement", {static_cast<double>(evaluations_without_improvement_)});
}

void EarlyStopping::load(const TensorMap& checkpoint) {
  evaluations_without_improvement_ =
      static_cast<std::int64_t>(require_state(checkpoint, "evaluations_without_improvement").at(0));
}

}  // namespace ft
