#pragma once
// The run's checkpoints: best.pt, the weights at the best value of the monitored metric, and last.pt, the
// weights and complete training state after every epoch (what `ftrun resume` continues from). It also judges
// improvement for the callbacks after it (early stopping, the plateau schedule). Only the leading process
// writes files; every process keeps the same judgement, since metrics are averaged over processes.

#include "loop/callback.h"
#include "model/model.h"

#include <functional>
#include <string>

namespace ft {

class BestCheckpoint : public Callback {
 public:
  /// `saved(path)` is told after last.pt is written (the store records it).
  BestCheckpoint(Classifier& model, std::string folder, std::string mode, double min_delta,
                 std::function<void(const std::string&)> saved);
  void on_train_start(LoopState& state) override;
  void on_epoch_end(LoopState& state, EpochRecord& epoch) override;
  void on_checkpoint(LoopState& state, const TensorMap& checkpoint) override;
  void save(TensorMap& checkpoint) const override;
  void load(const TensorMap& checkpoint) override;

  std::string best_path() const { return folder_ + "/best.pt"; }

 private:
  Classifier& model_;
  std::string folder_, mode_;
  double min_delta_;
  std::function<void(const std::string&)> saved_;
  std::optional<double> best_;
  std::optional<std::int64_t> best_epoch_;
};

}  // namespace ft
