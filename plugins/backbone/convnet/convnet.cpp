// convnet: a small VGG-style CNN for 28x28 and 32x32 images; quick to train on a CPU, good enough to show
// transfer (pretrain on some classes, fine-tune on others).
#include <ftsdk/memory.h>
#include <ftsdk/plugin.h>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/pooling.h>

namespace {

// Two 3x3 convolutions, each followed by BatchNorm (or, without it, by a bias) and ReLU.
torch::nn::Sequential conv_block(std::int64_t in, std::int64_t out, bool pool, bool batch_norm) {
  torch::nn::Sequential block;
  for (std::int64_t channels : {in, out}) {
    block->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, out, 3).padding(1).bias(!batch_norm)));
    if (batch_norm) block->push_back(torch::nn::BatchNorm2d(out));
    block->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
  }
  if (pool) block->push_back(torch::nn::MaxPool2d(2));
  return block;
}

/// Three blocks (width, 2·width, 4·width channels), the first two followed by 2x2 max-pooling, then global
/// average pooling. Modules are named block1..block3 for freezing.
class ConvNet final : public ft::Backbone {
 public:
  ConvNet(std::int64_t in_channels, std::int64_t width, double dropout, bool batch_norm)
      : block1_(register_module("block1", conv_block(in_channels, width, true, batch_norm))),
        block2_(register_module("block2", conv_block(width, 2 * width, true, batch_norm))),
        block3_(register_module("block3", conv_block(2 * width, 4 * width, false, batch_norm))),
        dropout_(register_module("dropout", torch::nn::Dropout(dropout))),
        features_(4 * width) {}

  torch::Tensor forward(torch::Tensor x) override { return forward_stages(x, 0, 3); }

  // Stages block1..block3 (the default stages(): top-level modules with parameters); the last ends with pooling
  // and the feature dropout.
  torch::Tensor forward_stages(torch::Tensor x, std::size_t first, std::size_t last) override {
    torch::nn::Sequential blocks[] = {block1_, block2_, block3_};
    for (std::size_t stage = first; stage < last; ++stage) x = blocks[stage]->forward(x);
    return last == 3 && first < last ? dropout_->forward(x.mean({2, 3})) : x;
  }
  bool splits_at_stages() const override { return true; }
  std::int64_t feature_size() const override { return features_; }

 private:
  torch::nn::Sequential block1_, block2_, block3_;
  torch::nn::Dropout dropout_;
  std::int64_t features_;
};

std::shared_ptr<ft::Backbone> make_convnet(const ft::Params& params, const ft::BackboneContext& ctx) {
  const auto width = params.get<std::int64_t>("width", 32);
  if (width < 1) params.fail("width", "must be at least 1");
  const auto dropout = params.get_finite("dropout", 0.0);
  if (dropout < 0 || dropout >= 1) params.fail("dropout", "must be in [0, 1)");
  // Without BatchNorm the model computes each example on its own: what data-parallel runs need to match one
  // process exactly (BatchNorm's statistics are per process; there is no SyncBatchNorm).
  const auto batch_norm = params.get<bool>("batch_norm", true);
  if (ctx.input.height < 4 || ctx.input.width < 4) {
    throw ft::ConfigError("backbone convnet needs images of at least 4x4 pixels");
  }
  // Six 3x3 convolutions (in → w → w, w → 2w → 2w, 2w → 4w → 4w) and their BatchNorms, counted before any is
  // allocated: a width too large for the machine is said as such, not found by the allocator.
  const double w = static_cast<double>(width), in = static_cast<double>(ctx.input.channels);
  const double weights = 9 * (in * w + w * w + w * 2 * w + 2 * w * 2 * w + 2 * w * 4 * w + 4 * w * 4 * w);
  ft::check_host_memory(4 * (weights + 4 * 14 * w), "backbone convnet with width = " + std::to_string(width));
  return std::make_shared<ConvNet>(ctx.input.channels, width, dropout, batch_norm);
}

void register_components(ft::Registry& registry) { registry.add_backbone("convnet", make_convnet); }

}  // namespace

FT_PLUGIN("convnet", "1.0.0", register_components)
