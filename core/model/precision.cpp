#include "model/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

namespace ft {

AutocastScope::AutocastScope(c10::DeviceType device, const std::string& precision) : device_(device) {
  if (precision == "fp32") return;
  active_ = true;
  previous_enabled_ = at::autocast::is_autocast_enabled(device);
  previous_dtype_ = at::autocast::get_autocast_dtype(device);
  at::autocast::set_autocast_enabled(device, true);
  at::autocast::set_autocast_dtype(device, precision == "bf16" ? at::kBFloat16 : at::kHalf);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // The weight casts autocast caches are valid for one forward pass only.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_, previous_enabled_);
  at::autocast::set_autocast_dtype(device_, previous_dtype_);
}

LossScaler::LossScaler(bool enabled, double initial_scale, std::int64_t growth_interval)
    : enabled_(enabled), scale_(initial_scale), growth_interval_(growth_interval) {}

bool LossScaler::unscale_and_check(const std::vector<torch::Tensor>& params) {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& param : params) {
    if (param.grad().defined()) grads.push_back(param.grad());
  }
  if (grads.empty()) return true;
  // One fused kernel unscales every gradient and flags any non-finite value, as GradScaler does; the step then
  // reads that one flag (the only host sync of an fp16 step).
  const auto options = torch::TensorOptions().device(grads.front().device()).dtype(torch::kFloat32);
  auto found_inf = torch::zeros({1}, options);
  const auto inv_scale = torch::full({1}, 1.0 / scale_, options);
  at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf, inv_scale);
  return found_inf.item<float>() == 0.0f;
}

void LossScaler::update(bool finite) {
  if (!enabled_) return;
  if (!finite) {
    scale_ *= 0.5;
    good_steps_ = 0;
    ++skipped_;
  } else if (++good_steps_ >= growth_interval_) {
    scale_ *= 2.0;
    good_steps_ = 0;
  }
}

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& param : module.parameters()) {
    if (param.dim() == 4) param.set_data(param.contiguous(at::MemoryFormat::ChannelsLast));
  }
  for (auto& buffer : module.buffers()) {
    if (buffer.dim() == 4) buffer.set_data(buffer.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

}  // namespace ft
