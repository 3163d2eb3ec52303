#pragma once
/// @file
/// Backbone plugins: the pretrained feature extractor that fine-tuning starts from.

#include <ftsdk/logger.h>
#include <ftsdk/tensors.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
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

/// What a text dataset adds to DatasetInfo: its tokenizer's vocabulary.
struct TextInfo {
  /// Number of token ids; 0 for a dataset that is not text.
  std::int64_t vocab_size = 0;
  /// Length every example's `input_ids` is padded or truncated to.
  std::int64_t max_length = 0;
  /// Ids of the special tokens by name: "pad", "unk", "cls", "sep", "mask".
  std::map<std::string, std::int64_t> special_tokens;
};

/// A network that maps a batch to features: `[N, feature_size()]`, or `[N, T, feature_size()]` when the task asks
/// for one vector per token (BackboneContext::per_token). An image backbone implements `forward(images)`; a
/// backbone of other inputs (token ids and attention masks) overrides `inputs()` and `encode()`.
/// Register sub-modules with `register_module` under stable names: freezing (`freeze = ["layer1"]`) and
/// weight files address parameters by those names (`layer1.0.conv1.weight`).
class Backbone : public torch::nn::Module {
 public:
  /// Features for a batch of normalised images (image backbones); or for the tensor `inputs()[0]` alone.
  virtual torch::Tensor forward(torch::Tensor images) = 0;
  /// Names of the batch tensors the backbone reads; checked against the dataset's before training.
  virtual std::vector<std::string> inputs() const { return {tensor_names::kImages}; }
  /// Features for a batch of named tensors. The default calls `forward` with the tensor named `inputs()[0]`.
  virtual torch::Tensor encode(const Batch& batch) { return forward(batch.at(inputs().front())); }
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
  /// (ABI 7) The channels of each map `forward_pyramid` returns, finest first; empty (the default) for a backbone
  /// without a pyramid. ResNet-50: {512, 1024, 2048}, its layer2 to layer4.
  virtual std::vector<std::int64_t> pyramid_channels() const { return {}; }
  /// (ABI 7) Feature maps `[N, C_i, H_i, W_i]` of a batch of normalised images, finest first, each stage halving
  /// the size of the one before (strides 8, 16, 32 for ResNet): what a detection head (a feature pyramid network)
  /// reads when the task asks for FeatureShape::pyramid.
  virtual std::vector<torch::Tensor> forward_pyramid(torch::Tensor images) {
    (void)images;
    return {};
  }
};

/// What a backbone factory is given besides its parameters.
struct BackboneContext {
  /// Shape of the dataset's images.
  InputShape input;
  /// Where to write messages.
  Logger& log;
  /// The dataset's vocabulary, for text backbones (vocab_size 0 otherwise).
  TextInfo text;
  /// True when the task wants one feature vector per token (masked language modelling) instead of one per example.
  bool per_token = false;
};

}  // namespace ft
