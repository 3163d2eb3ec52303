#include "loop/callbacks/best_checkpoint.h"

#include "model/training_state.h"
#include "training/lr_schedule.h"

namespace ft {

BestCheckpoint::BestCheckpoint(Classifier& model, std::string folder, std::string mode, double min_delta,
                               std::function<void(const std::string&)> saved)
    : model_(model),
      folder_(std::move(folder)),
      mode_(std::move(mode)),
      min_delta_(min_delta),
      saved_(std::move(saved)) {}

void BestCheckpoint::on_train_start(LoopState& state) {
  state.best = best_;  // restored from a checkpoint, or nothing yet
  state.best_epoch = best_epoch_;
}

void BestCheckpoint::on_epoch_end(LoopState& state, EpochRecord& epoch) {
  auto value = epoch.metrics.find(state.monitor);
  if (value == epoch.metrics.end()) return;
  const bool improved = !best_ || improves(state.monitor, mode_, value->second, *best_, min_delta_);
  epoch.improved = improved;
  if (improved) {
    best_ = value->second;
    best_epoch_ = epoch.epoch;
    state.rows.push_back({"final", epoch.epoch, epoch.global_step, "best_epoch", static_cast<double>(epoch.epoch)});
    state.rows.push_back({"final", epoch.epoch, epoch.global_step, "best_" + state.monitor, value->second});
    if (state.leader) save_tensors(model_.state(), best_path());
  }
  state.best = best_;
  state.best_epoch = best_epoch_;
}

void BestCheckpoint::on_checkpoint(LoopState&, const TensorMap& checkpoint) {
  const std::string last = folder_ + "/last.pt";
  save_tensors(checkpoint, last);
  if (saved_) saved_(last);
}

void BestCheckpoint::save(TensorMap& checkpoint) const {
  if (best_) put_state(checkpoint, "best", {*best_});
  if (best_epoch_) put_state(checkpoint, "best_epoch", {static_cast<double>(*best_epoch_)});
}

void BestCheckpoint::load(const TensorMap& checkpoint) {
  if (auto best = find_state(checkpoint, "best")) best_ = best->at(0);
  if (auto epoch = find_state(checkpoint, "best_epoch")) best_epoch_ = static_cast<std::int64_t>(epoch->at(0));
}

}  // namespace ft
