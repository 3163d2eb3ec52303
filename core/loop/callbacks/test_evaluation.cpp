#include "loop/callbacks/test_evaluation.h"

#include "distributed/process_group.h"
#include "log/log.h"

#include <fmt/format.h>
#include <torch/torch.h>

namespace ft {

void TestEvaluation::on_train_end(LoopState& state) {
  std::int64_t weights_epoch = state.epoch;
  if (weights_ == "best" && state.best_epoch && *state.best_epoch != state.epoch) {
    // The leader reads best.pt; the other processes receive its weights.
    torch::NoGradGuard no_grad;
    auto current = model_.state();
    if (state.leader) {
      const TensorMap best = load_tensors(best_path_);
      for (auto& [name, tensor] : current) {
        auto saved = best.find(name);
        if (saved == best.end()) throw DataError(best_path_ + " lacks " + name);
        tensor.copy_(saved->second);
      }
    }
    if (group_) {
      std::vector<torch::Tensor> tensors;
      for (auto& [name, tensor] : current) tensors.push_back(tensor);
      group_->broadcast(tensors);
    }
    weights_epoch = *state.best_epoch;
  }
  const EvalResult result = evaluate(model_, test_, setup_, group_);
  state.rows.push_back({"final", state.epoch, state.global_step, "test_loss", result.loss});
  std::string metrics;
  for (const auto& [name, value] : result.metrics) {
    state.rows.push_back({"final", state.epoch, state.global_step, "test_" + name, value});
    metrics += fmt::format(" {} {:.4f}", name == "accuracy" ? "acc" : name, value);
  }
  state.rows.push_back(
      {"final", state.epoch, state.global_step, "test_weights_epoch", static_cast<double>(weights_epoch)});
  log::info(fmt::format("test ({} weights, epoch {}): loss {:.4f}{} ({} examples)",
                        weights_epoch == state.epoch ? "last" : "best", weights_epoch, result.loss, metrics,
                        result.examples));
}

}  // namespace ft
