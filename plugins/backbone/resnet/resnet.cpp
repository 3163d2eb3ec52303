// resnet18 .. resnet152: torchvision's ResNet (v1.5: the stride sits on the 3x3 convolution), with its parameter
// and buffer names (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, ...), so torchvision and timm weights
// load unchanged. The classifier (fc) is left out: ftrun's head replaces it.
//
// Options: small_input (a 3x3 stride-1 stem without max-pooling, for 32x32 images trained from scratch; its conv1
// no longer matches ImageNet weights) and input_size (resize every batch to this size on the fly, e.g. 32 → 224,
// for ImageNet weights that expect large images), drop_path_rate (stochastic depth, Huang et al. 2016, as timm does
// it: in training, each block's residual branch is dropped for a random share of the batch's samples and the kept
// ones scaled by 1 / keep; the rate rises linearly from 0 at the first block to drop_path_rate at the last; blocks
// in eval mode, frozen ones included, never drop).
#include <ftsdk/plugin.h>

#include <algorithm>

#include <torch/torch.h>

namespace {

namespace nn = torch::nn;

nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

class Block : public nn::Module {
 public:
  explicit Block(double drop_path) : drop_path_(drop_path) {}
  virtual torch::Tensor forward(torch::Tensor x) = 0;

 protected:
  // timm's drop_path: per sample, the branch is zeroed with probability p, otherwise scaled by 1 / (1 - p).
  torch::Tensor drop_path(const torch::Tensor& branch) const {
    if (drop_path_ == 0 || !is_training()) return branch;
    const double keep = 1.0 - drop_path_;
    const auto mask = torch::empty({branch.size(0), 1, 1, 1}, branch.options()).bernoulli_(keep).div_(keep);
    return branch * mask;
  }

 private:
  double drop_path_;
};

class BasicBlock final : public Block {
 public:
  static constexpr std::int64_t kExpansion = 1;
  BasicBlock(std::int64_t in, std::int64_t planes, std::int64_t stride, double drop_path)
      : Block(drop_path),
        conv1_(register_module("conv1", conv(in, planes, 3, stride))),
        bn1_(register_module("bn1", nn::BatchNorm2d(planes))),
        conv2_(register_module("conv2", conv(planes, planes, 3))),
        bn2_(register_module("bn2", nn::BatchNorm2d(planes))) {
    if (stride != 1 || in != planes) {
      downsample_ = register_module("downsample", nn::Sequential(conv(in, planes, 1, stride), nn::BatchNorm2d(planes)));
    }
  }
  torch::Tensor forward(torch::Tensor x) override {
    auto out = torch::relu(bn1_->forward(conv1_->forward(x)));
    out = drop_path(bn2_->forward(conv2_->forward(out)));
    return torch::relu(out + (downsample_ ? downsample_->forward(x) : x));
  }

 private:
  nn::Conv2d conv1_;
  nn::BatchNorm2d bn1_;
  nn::Conv2d conv2_;
  nn::BatchNorm2d bn2_;
  nn::Sequential downsample_{nullptr};
};

class Bottleneck final : public Block {
 public:
  static constexpr std::int64_t kExpansion = 4;
  Bottleneck(std::int64_t in, std::int64_t planes, std::int64_t stride, double drop_path)
      : Block(drop_path),
        conv1_(register_module("conv1", conv(in, planes, 1))),
        bn1_(register_module("bn1", nn::BatchNorm2d(planes))),
        conv2_(register_module("conv2", conv(planes, planes, 3, stride))),
        bn2_(register_module("bn2", nn::BatchNorm2d(planes))),
        conv3_(register_module("conv3", conv(planes, planes * kExpansion, 1))),
        bn3_(register_module("bn3", nn::BatchNorm2d(planes * kExpansion))) {
    if (stride != 1 || in != planes * kExpansion) {
      downsample_ = register_module(
          "downsample", nn::Sequential(conv(in, planes * kExpansion, 1, stride), nn::BatchNorm2d(planes * kExpansion)));
    }
  }
  torch::Tensor forward(torch::Tensor x) override {
    auto out = torch::relu(bn1_->forward(conv1_->forward(x)));
    out = torch::relu(bn2_->forward(conv2_->forward(out)));
    out = drop_path(bn3_->forward(conv3_->forward(out)));
    return torch::relu(out + (downsample_ ? downsample_->forward(x) : x));
  }

 private:
  nn::Conv2d conv1_;
  nn::BatchNorm2d bn1_;
  nn::Conv2d conv2_;
  nn::BatchNorm2d bn2_;
  nn::Conv2d conv3_;
  nn::BatchNorm2d bn3_;
  nn::Sequential downsample_{nullptr};
};

struct ResNetOptions {
  std::vector<std::int64_t> layers;
  bool bottleneck = false;
  std::int64_t in_channels = 3;
  bool small_input = false;
  std::int64_t input_size = 0;  // 0: keep the dataset's size
  double drop_path_rate = 0;    // the last block's stochastic-depth rate
};

class ResNet final : public ft::Backbone {
 public:
  explicit ResNet(const ResNetOptions& options) : options_(options) {
    conv1_ = register_module(
        "conv1", options.small_input ? conv(options.in_channels, 64, 3) : conv(options.in_channels, 64, 7, 2));
    bn1_ = register_module("bn1", nn::BatchNorm2d(64));
    const std::int64_t expansion = options.bottleneck ? Bottleneck::kExpansion : BasicBlock::kExpansion;
    std::int64_t in = 64;
    const std::int64_t blocks = options.layers[0] + options.layers[1] + options.layers[2] + options.layers[3];
    std::int64_t block = 0;
    for (std::size_t stage = 0; stage < 4; ++stage) {
      const std::int64_t planes = 64 << stage;
      nn::Sequential layer;
      for (std::int64_t i = 0; i < options.layers[stage]; ++i) {
        const std::int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
        const double drop_path =
            options.drop_path_rate * static_cast<double>(block++) / static_cast<double>(blocks - 1);
        if (options.bottleneck) {
          layer->push_back(std::make_shared<Bottleneck>(in, planes, stride, drop_path));
        } else {
          layer->push_back(std::make_shared<BasicBlock>(in, planes, stride, drop_path));
        }
        in = planes * expansion;
      }
      layers_.push_back(register_module("layer" + std::to_string(stage + 1), layer));
    }
    features_ = in;
    // torchvision's initialisation: He (fan-out) for convolutions, BatchNorm as identity.
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* c = module->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
      } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
        nn::init::ones_(bn->weight);
        nn::init::zeros_(bn->bias);
      }
    }
  }

  torch::Tensor forward(torch::Tensor x) override { return forward_stages(x, 0, 5); }

  // Stage 0 is the stem (resize, conv1, bn1, max-pool), stages 1-4 the layers; the last one ends with pooling.
  torch::Tensor forward_stages(torch::Tensor x, std::size_t first, std::size_t last) override {
    if (first == 0 && last > 0) x = stem(x);
    for (std::size_t stage = std::max<std::size_t>(first, 1); stage < last; ++stage) x = layers_[stage - 1]->forward(x);
    return last == 5 && first < last ? x.mean({2, 3}) : x;
  }
  bool splits_at_stages() const override { return true; }

  std::int64_t feature_size() const override { return features_; }
  std::vector<std::vector<std::string>> stages() const override {
    return {{"conv1", "bn1"}, {"layer1"}, {"layer2"}, {"layer3"}, {"layer4"}};
  }

  // C3-C5, the outputs of layer2 to layer4 (strides 8, 16, 32), as torchvision's resnet_fpn_backbone returns them
  // for FCOS (returned_layers [2, 3, 4]).
  std::vector<std::int64_t> pyramid_channels() const override { return {features_ / 4, features_ / 2, features_}; }
  std::vector<torch::Tensor> forward_pyramid(torch::Tensor x) override {
    if (options_.input_size > 0) {
      // Boxes are in the images' pixels: a resized input would place every detection wrongly.
      throw ft::ConfigError(
          "resnet: input_size resizes the images, which a detection task cannot take (its boxes "
          "are in the images' pixels); set the dataset's image_size instead");
    }
    x = layers_[0]->forward(stem(x));
    std::vector<torch::Tensor> levels;
    for (std::size_t stage = 1; stage < layers_.size(); ++stage) {
      x = layers_[stage]->forward(x);
      levels.push_back(x);
    }
    return levels;
  }

 private:
  torch::Tensor stem(torch::Tensor x) {
    if (options_.input_size > 0 && (x.size(2) != options_.input_size || x.size(3) != options_.input_size)) {
      x = nn::functional::interpolate(x, nn::functional::InterpolateFuncOptions()
                                             .size(std::vector<std::int64_t>{options_.input_size, options_.input_size})
                                             .mode(torch::kBilinear)
                                             .align_corners(false));
    }
    x = torch::relu(bn1_->forward(conv1_->forward(x)));
    if (!options_.small_input) x = torch::max_pool2d(x, 3, 2, 1);
    return x;
  }

  ResNetOptions options_;
  nn::Conv2d conv1_{nullptr};
  nn::BatchNorm2d bn1_{nullptr};
  std::vector<nn::Sequential> layers_;
  std::int64_t features_ = 0;
};

ft::Factory<ft::Backbone, ft::BackboneContext> factory(std::vector<std::int64_t> layers, bool bottleneck) {
  return [layers, bottleneck](const ft::Params& params,
                              const ft::BackboneContext& ctx) -> std::shared_ptr<ft::Backbone> {
    ResNetOptions options{layers, bottleneck, ctx.input.channels};
    options.small_input = params.get<bool>("small_input", false);
    options.input_size = params.get<std::int64_t>("input_size", 0);
    options.drop_path_rate = params.get_finite("drop_path_rate", 0.0);
    if (options.input_size < 0) params.fail("input_size", "must be 0 (keep the images' size) or positive");
    if (options.drop_path_rate < 0 || options.drop_path_rate >= 1) params.fail("drop_path_rate", "must be in [0, 1)");
    const std::int64_t size = options.input_size > 0 ? options.input_size : std::min(ctx.input.height, ctx.input.width);
    if (size < (options.small_input ? 8 : 32)) {
      throw ft::ConfigError("ResNet needs images of at least " + std::to_string(options.small_input ? 8 : 32) +
                            " pixels (got " + std::to_string(size) + "); set [backbone] input_size = 224 to resize");
    }
    return std::make_shared<ResNet>(options);
  };
}

void register_components(ft::Registry& registry) {
  registry.add_backbone("resnet18", factory({2, 2, 2, 2}, false));
  registry.add_backbone("resnet34", factory({3, 4, 6, 3}, false));
  registry.add_backbone("resnet50", factory({3, 4, 6, 3}, true));
  registry.add_backbone("resnet101", factory({3, 4, 23, 3}, true));
  registry.add_backbone("resnet152", factory({3, 8, 36, 3}, true));
}

}  // namespace

FT_PLUGIN("resnet", "1.0.0", register_components)
