#pragma once
/// @file
/// Backbone plugins: the pretrained feature extractor that fine-tuning starts from.

#include <ftsdk/logger.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ft {

/// Shape of one input image, channels first.
struct InputShape {
  /// Number of channels (1 for grey-scale, 3 for RGB).
  std::int64_t channels = 0;
  /// Height in pixels.
  std::int64_t height = 0;
  /// Width in pixels.
  std::int64_t width = 0;
};

/// A network that maps a batch of images `[N, C, H, W]` to features `[N, feature_size()]`.
/// Register sub-modules with `register_module` under stable names: freezing (`freeze = ["layer1"]`) and
/// weight files address parameters by those names (`layer1.0.conv1.weight`).
class Backbone : public torch::nn::Module {
 public:
  /// Features for a batch of normalised images.
  virtual torch::Tensor forward(torch::Tensor images) = 0;
  /// Width of the feature vector `forward` returns.
  virtual std::int64_t feature_size() const = 0;
  /// The backbone's stages from input to output, each a list of parameter-name prefixes, for layer-wise
  /// learning-rate decay (`[backbone] layer_decay`). The default makes each top-level module with parameters
  /// a stage, in registration order. Example (ResNet): {{"conv1", "bn1"}, {"layer1"}, ..., {"layer4"}}.
  virtual std::vector<std::vector<std::string>> stages() const {
    std::vector<std::vector<std::string>> out;
    for (const auto& child : named_children()) {
      if (!child.value()->parameters().empty()) out.push_back({child.key()});
    }
    return out;
  }
  /// Runs stages `[first, last)` of `stages()` on `x`: from normalised images when `first` is 0, to the features
  /// `forward` returns when `last` is `stages().size()`, so that `forward_stages(forward_stages(x, 0, k), k, n)`
  /// equals `forward(x)` (`first == last` returns `x` unchanged). It lets the core run a frozen prefix of stages once
  /// per image (the feature cache, docs/experiments.md) and only the rest at every step. Override it together with
  /// `splits_at_stages()`; a backbone that does not is never split, and trains as a whole.
  virtual torch::Tensor forward_stages(torch::Tensor x, std::size_t first, std::size_t last) {
    (void)first;
    (void)last;
    return forward(x);
  }
  /// True when `forward_stages` is implemented.
  virtual bool splits_at_stages() const { return false; }
};

/// What a backbone factory is given besides its parameters.
struct BackboneContext {
  /// Shape of the dataset's images.
  InputShape input;
  /// Where to write messages.
  Logger& log;
};

}  // namespace ft
