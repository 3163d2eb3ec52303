#pragma once
// Stops training after `patience` evaluations without improvement of the monitored metric (as judged by the
// best-checkpoint callback, which comes before it).

#include "loop/callback.h"

namespace ft {

class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(std::int64_t patience) : patience_(patience) {}
  void on_epoch_end(LoopState& state, EpochRecord& epoch) override;
  void save(TensorMap& checkpoint) const override;
  void load(const TensorMap& checkpoint) override;

 private:
  std::int64_t patience_;
  std::int64_t evaluations_without_improvement_ = 0;
};

}  // namespace ft
