// cosine: a cosine-similarity head, scale * cos(features, w_c) for each class c. Normalising both sides makes
// the logits independent of the feature norm, which often helps few-shot fine-tuning. A complete head plugin:
// a torch::nn::Module whose parameters are registered (so they are trained, saved and moved to the device), and
// logits of shape [N, num_classes].
#include <ftsdk/plugin.h>

#include <torch/nn/functional/normalization.h>
#include <torch/torch.h>

namespace {

class CosineHead final : public ft::Head {
 public:
  CosineHead(std::int64_t in_features, std::int64_t classes, double scale)
      : weight_(register_parameter("weight", torch::randn({classes, in_features}) * 0.01)), scale_(scale) {}

  torch::Tensor forward(torch::Tensor features) override {
    namespace F = torch::nn::functional;
    const auto options = F::NormalizeFuncOptions().dim(1);
    return F::normalize(features, options).matmul(F::normalize(weight_, options).t()) * scale_;
  }

 private:
  torch::Tensor weight_;
  double scale_;
};

std::shared_ptr<ft::Head> make_cosine(const ft::Params& params, const ft::HeadContext& ctx) {
  const double scale = params.get_finite("scale", 16.0);
  if (scale <= 0) params.fail("scale", "must be positive");
  return std::make_shared<CosineHead>(ctx.in_features, ctx.num_classes, scale);
}

void register_components(ft::Registry& registry) { registry.add_head("cosine", make_cosine); }

}  // namespace

FT_PLUGIN("cosine_head", "1.0.0", register_components)
