// mixup and cutmix (Zhang et al. 2018; Yun et al. 2019), as timm's Mixup does them in its "batch" mode: with
// probability `prob` a training batch is blended with itself reversed, either pixel by pixel (mixup: lam * x +
// (1 - lam) * x reversed) or by pasting a box of the reversed batch (cutmix, lam corrected to the box's real area),
// lam drawn from Beta(alpha, alpha). Targets become class probabilities lam * y + (1 - lam) * y reversed, which the
// core's cross-entropy and `label_smoothing` (listed after this one) take as they are: together they give timm's
// smoothed mixup targets exactly.
//
//   mixup:  alpha (1.0), cutmix_alpha (0.0: mixup only), prob (1.0), switch_prob (0.5: the share of cutmix when
//           both alphas are positive)
//   cutmix: the same keys, with alpha 0.0 and cutmix_alpha 1.0 by default
//
// Random numbers come from LibTorch's generator, which ftrun reseeds every epoch: resume stays exact. Differences
// from timm: no built-in label smoothing (list `label_smoothing`), no per-element or per-pair modes, no
// cutmix_minmax.
#include <ftsdk/plugin.h>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace {

struct MixOptions {
  double alpha = 1.0, cutmix_alpha = 0.0, prob = 1.0, switch_prob = 0.5;
};

// A uniform draw in [0, 1) from LibTorch's default CPU generator.
double uniform() { return torch::rand({1}, torch::kFloat64).item<double>(); }

// Beta(a, a) as the ratio of two Gamma(a) draws.
double beta(double a) {
  const auto gamma = at::_standard_gamma(torch::full({2}, a, torch::kFloat64));
  const auto g = gamma.accessor<double, 1>();
  return g[0] / (g[0] + g[1]);
}

// An integer in [0, n).
std::int64_t below(std::int64_t n) { return torch::randint(n, {1}, torch::kLong).item<std::int64_t>(); }

class Mix final : public ft::Regularization {
 public:
  Mix(MixOptions options, std::int64_t classes) : options_(options), classes_(classes) {}

  void transform_batch(ft::Batch& batch) override {
    torch::Tensor& images = batch.at(ft::tensor_names::kImages);
    torch::Tensor& targets = batch.at(ft::tensor_names::kTargets);
    if (images.size(0) < 2 || uniform() >= options_.prob) return;
    bool cutmix = options_.cutmix_alpha > 0;
    if (options_.alpha > 0 && options_.cutmix_alpha > 0) cutmix = uniform() < options_.switch_prob;
    double lam = beta(cutmix ? options_.cutmix_alpha : options_.alpha);
    const auto reversed = images.flip(0);
    if (cutmix) {
      // timm's rand_bbox: a box of sqrt(1 - lam) of each side, centred anywhere, clipped to the image.
      const std::int64_t h = images.size(2), w = images.size(3);
      const double side = std::sqrt(1 - lam);
      const auto cut_h = static_cast<std::int64_t>(h * side), cut_w = static_cast<std::int64_t>(w * side);
      const std::int64_t cy = below(h), cx = below(w);
      const std::int64_t top = std::clamp<std::int64_t>(cy - cut_h / 2, 0, h);
      const std::int64_t bottom = std::clamp<std::int64_t>(cy + cut_h / 2, 0, h);
      const std::int64_t left = std::clamp<std::int64_t>(cx - cut_w / 2, 0, w);
      const std::int64_t right = std::clamp<std::int64_t>(cx + cut_w / 2, 0, w);
      auto mixed = images.clone();
      using torch::indexing::Slice;
      mixed.index_put_({Slice(), Slice(), Slice(top, bottom), Slice(left, right)},
                       reversed.index({Slice(), Slice(), Slice(top, bottom), Slice(left, right)}));
      images = mixed;
      lam = 1.0 - static_cast<double>((bottom - top) * (right - left)) / static_cast<double>(h * w);
    } else {
      images = images * lam + reversed * (1.0 - lam);
    }
    targets = probabilities(targets) * lam + probabilities(targets).flip(0) * (1.0 - lam);
  }

 private:
  // Class indices as one-hot rows; rows already mixed (an earlier hook) as they are.
  torch::Tensor probabilities(const torch::Tensor& targets) const {
    if (targets.dim() == 2) return targets;
    return torch::one_hot(targets, classes_).to(torch::kFloat32);
  }

  MixOptions options_;
  std::int64_t classes_;
};

std::shared_ptr<ft::Regularization> make(const ft::Params& params, const ft::RegularizationContext& ctx,
                                         MixOptions defaults) {
  MixOptions options;
  options.alpha = params.get_finite("alpha", defaults.alpha);
  options.cutmix_alpha = params.get_finite("cutmix_alpha", defaults.cutmix_alpha);
  options.prob = params.get_finite("prob", defaults.prob);
  options.switch_prob = params.get_finite("switch_prob", defaults.switch_prob);
  if (options.alpha < 0) params.fail("alpha", "must be at least 0");
  if (options.cutmix_alpha < 0) params.fail("cutmix_alpha", "must be at least 0");
  if (options.alpha == 0 && options.cutmix_alpha == 0) {
    params.fail("alpha", "alpha or cutmix_alpha must be positive (Beta(alpha, alpha) draws the mixing weight)");
  }
  if (options.prob < 0 || options.prob > 1) params.fail("prob", "must be in [0, 1]");
  if (options.switch_prob < 0 || options.switch_prob > 1) params.fail("switch_prob", "must be in [0, 1]");
  return std::make_shared<Mix>(options, ctx.num_classes);
}

void register_components(ft::Registry& registry) {
  registry.add_regularization("mixup", [](const ft::Params& params, const ft::RegularizationContext& ctx) {
    return make(params, ctx, {1.0, 0.0, 1.0, 0.5});
  });
  registry.add_regularization("cutmix", [](const ft::Params& params, const ft::RegularizationContext& ctx) {
    return make(params, ctx, {0.0, 1.0, 1.0, 0.5});
  });
}

}  // namespace

FT_PLUGIN("mixup", "1.0.0", register_components)
