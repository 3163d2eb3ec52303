#pragma once
// Mixed precision: autocast for bf16/fp16 forward passes, and dynamic loss scaling for fp16, which skips steps
// whose gradients are not finite.

#include <torch/nn/module.h>
#include <torch/types.h>

#include <c10/core/DeviceType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ft {

/// Turns autocast on for `device` with `dtype` while alive (nothing for fp32); restores the previous state.
class AutocastScope {
 public:
  AutocastScope(c10::DeviceType device, const std::string& precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  c10::DeviceType device_;
  bool active_ = false, previous_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::ScalarType::Float;
};

/// Dynamic loss scaling as PyTorch's GradScaler does it: losses are multiplied by `scale()` before backward;
/// `unscale_and_check` divides the gradients back and reports whether they are all finite. A step with
/// non-finite gradients is skipped and the scale halved; after `growth_interval` good steps it doubles.
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double initial_scale = 65536.0, std::int64_t growth_interval = 2000);
  bool enabled() const { return enabled_; }
  double scale() const { return enabled_ ? scale_ : 1.0; }
  /// Unscales the gradients of `params` in place; true when every gradient is finite.
  bool unscale_and_check(const std::vector<torch::Tensor>& params);
  /// Updates the scale after a step that was taken (`finite`) or skipped.
  void update(bool finite);
  std::int64_t skipped_steps() const { return skipped_; }
  /// {scale, good steps since the last change}, for checkpoints.
  std::pair<double, std::int64_t> state() const { return {scale_, good_steps_}; }
  void restore(std::pair<double, std::int64_t> state) {
    scale_ = state.first;
    good_steps_ = state.second;
  }

 private:
  bool enabled_;
  double scale_;
  std::int64_t growth_interval_, good_steps_ = 0, skipped_ = 0;
};

/// Converts the 4-d parameters and buffers of `module` to channels-last memory layout (Module::to cannot).
void to_channels_last(torch::nn::Module& module);

}  // namespace ft
