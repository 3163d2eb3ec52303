// The `fcos` head: torchvision's FCOS detector on top of a backbone's feature pyramid. Its feature pyramid network
// (`fpn`: P3-P5 from the backbone's C3-C5, P6 and P7 above) and its classification and box-regression heads
// (`fcos`) carry torchvision's module names below those prefixes, so torchvision's `fcos_resnet50_fpn` weights map
// one to one (scripts/export_weights.py: `backbone.fpn.*` → `head.fpn.*`, `head.*` → `head.fcos.*`).
//
// Parameters:
//   channels            width of the pyramid and the heads (256, torchvision's)
//   convolutions        3x3 convolutions in each head's tower (4)
//   prior_probability   the classification bias's starting probability of an object (0.01)
//   anchor_sizes        one square anchor's side per level, P3 to P7 ([8, 16, 32, 64, 128])
#include "detection_components.h"
#include "fcos.h"

#include <torch/torch.h>

namespace ft_plugins {
namespace {

class FcosHead final : public ft::Head {
 public:
  FcosHead(const std::vector<std::int64_t>& pyramid_channels, std::int64_t classes, std::int64_t channels,
           std::int64_t convolutions, double prior_probability, std::vector<double> anchor_sizes)
      : fpn_(register_module("fpn", std::make_shared<fcos::FeaturePyramid>(pyramid_channels, channels))),
        fcos_(
            register_module("fcos", std::make_shared<fcos::Head>(channels, classes, convolutions, prior_probability))),
        anchor_sizes_(std::move(anchor_sizes)) {}

  torch::Tensor forward(torch::Tensor) override {
    throw ft::ConfigError("head 'fcos' reads a backbone's feature pyramid: use it with task = \"detection\"");
  }

  torch::Tensor forward_pyramid(const std::vector<torch::Tensor>& levels, std::int64_t image_height,
                                std::int64_t image_width) override {
    const auto pyramid = fpn_->forward(levels);
    if (pyramid.size() != anchor_sizes_.size()) {
      throw ft::ConfigError("head 'fcos': anchor_sizes has " + std::to_string(anchor_sizes_.size()) +
                            " entries, the pyramid " + std::to_string(pyramid.size()) + " levels");
    }
    return fcos::pack(fcos_->forward(pyramid), fcos::anchors(pyramid, image_height, image_width, anchor_sizes_));
  }

 private:
  std::shared_ptr<fcos::FeaturePyramid> fpn_;
  std::shared_ptr<fcos::Head> fcos_;
  std::vector<double> anchor_sizes_;
};

}  // namespace

std::shared_ptr<ft::Head> make_fcos_head(const ft::Params& params, const ft::HeadContext& context) {
  const auto channels = params.get<std::int64_t>("channels", 256);
  const auto convolutions = params.get<std::int64_t>("convolutions", 4);
  const double prior = params.get_finite("prior_probability", 0.01);
  const auto sizes = params.get<std::vector<double>>("anchor_sizes", {8, 16, 32, 64, 128});
  if (channels <= 0 || channels % 32 != 0) params.fail("channels", "must be a positive multiple of 32 (GroupNorm(32))");
  if (convolutions < 0) params.fail("convolutions", "must be 0 or more");
  if (prior <= 0 || prior >= 1) params.fail("prior_probability", "must be in (0, 1)");
  if (sizes.size() != 5) params.fail("anchor_sizes", "needs 5 sizes, one per level P3 to P7");
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] <= 0 || (i > 0 && sizes[i] <= sizes[i - 1]))
      params.fail("anchor_sizes", "must be positive and growing from P3 to P7");
  }
  if (context.pyramid_channels.empty()) {
    throw ft::ConfigError(
        "head 'fcos' reads a backbone's feature pyramid, which only a detection task asks for: set [task] type = "
        "\"detection\"");
  }
  return std::make_shared<FcosHead>(context.pyramid_channels, context.num_classes, channels, convolutions, prior,
                                    sizes);
}

}  // namespace ft_plugins
