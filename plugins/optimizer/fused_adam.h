#pragma once
// Adam and AdamW stepping through ATen's fused kernels (_fused_adam_, _fused_adamw_: one pass over each tensor,
// on the CPU and on CUDA), which PyTorch uses with `fused=True`. LibTorch's own torch::optim::Adam runs several
// element-wise operations per tensor, each a pass over memory; on the CPU its step cost about as much as the
// backward pass of the layers it updates (docs/performance.md). The state is LibTorch's own (AdamParamState /
// AdamWParamState, `step` counted per tensor), so checkpoints are those of torch::optim::Adam and AdamW and load
// either way. Groups holding sparse gradients fall back to LibTorch's step.

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/torch.h>

#include <vector>

namespace ft_plugins {

template <class Base, class Options, class State, bool kDecoupled>
class FusedAdam final : public Base {
 public:
  using Base::Base;

  torch::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override {
    for (auto& group : this->param_groups()) {
      for (auto& p : group.params()) {
        if (p.grad().defined() && p.grad().is_sparse()) return Base::step(closure);
      }
    }
    torch::NoGradGuard no_grad;
    torch::Tensor loss;
    if (closure) {
      torch::AutoGradMode enable(true);
      loss = closure();
    }
    for (auto& group : this->param_groups()) {
      const auto& options = static_cast<const Options&>(group.options());
      std::vector<torch::Tensor> params, grads, averages, squares, maxima, steps;
      for (auto& p : group.params()) {
        if (!p.grad().defined()) continue;
        auto& slot = this->state()[p.unsafeGetTensorImpl()];
        if (!slot) {
          auto fresh = std::make_unique<State>();
          fresh->step(0);
          fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
          fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
          if (options.amsgrad()) fresh->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
          slot = std::move(fresh);
        }
        auto& state = static_cast<State&>(*slot);
        state.step(state.step() + 1);
        params.push_back(p);
        grads.push_back(p.grad());
        averages.push_back(state.exp_avg());
        squares.push_back(state.exp_avg_sq());
        if (options.amsgrad()) maxima.push_back(state.max_exp_avg_sq());
        // The kernel reads the step count, already advanced, as a float scalar on the parameter's device.
        steps.push_back(torch::full({}, static_cast<double>(state.step()), p.options().dtype(torch::kFloat32)));
      }
      if (params.empty()) continue;
      const auto [beta1, beta2] = options.betas();
      if constexpr (kDecoupled) {
        at::_fused_adamw_(params, grads, averages, squares, maxima, steps, options.lr(), beta1, beta2,
                          options.weight_decay(), options.eps(), options.amsgrad(), /*maximize=*/false);
      } else {
        at::_fused_adam_(params, grads, averages, squares, maxima, steps, options.lr(), beta1, beta2,
                         options.weight_decay(), options.eps(), options.amsgrad(), /*maximize=*/false);
      }
    }
    return loss;
  }
};

using FusedAdamOptimizer =
    FusedAdam<torch::optim::Adam, torch::optim::AdamOptions, torch::optim::AdamParamState, false>;
using FusedAdamWOptimizer =
    FusedAdam<torch::optim::AdamW, torch::optim::AdamWOptions, torch::optim::AdamWParamState, true>;

}  // namespace ft_plugins
