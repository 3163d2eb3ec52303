// l2sp: L2-SP (Li, Grandvalet and Davoine, "Explicit Inductive Bias for Transfer Learning with Convolutional
// Networks", ICML 2018). Penalises the backbone's distance from its starting (pretrained) weights,
//   alpha/2 * ||w - w0||^2,
// instead of its distance from zero, plus a plain L2 term beta/2 * ||v||^2 on the new head's weights.
#include <ftsdk/plugin.h>

#include <torch/torch.h>

namespace {

class L2SP final : public ft::Regularization {
 public:
  L2SP(double alpha, double beta) : alpha_(alpha), beta_(beta) {}

  void attach(torch::nn::Module& model) override {
    for (auto& item : model.named_parameters()) {
      if (!item.value().requires_grad()) continue;
      if (item.key().rfind("backbone.", 0) == 0) {
        anchored_.emplace_back(item.value(), item.value().detach().clone());
      } else if (item.key().rfind("head.", 0) == 0 && item.value().dim() > 1) {
        head_weights_.push_back(item.value());
      }
    }
  }

  torch::Tensor penalty(torch::nn::Module&) override {
    torch::Tensor total;
    auto add = [&](const torch::Tensor& term) { total = total.defined() ? total + term : term; };
    for (const auto& [weight, start] : anchored_) add(0.5 * alpha_ * (weight - start).pow(2).sum());
    for (const auto& weight : head_weights_) add(0.5 * beta_ * weight.pow(2).sum());
    return total;
  }

 private:
  double alpha_, beta_;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> anchored_;
  std::vector<torch::Tensor> head_weights_;
};

std::shared_ptr<ft::Regularization> make_l2sp(const ft::Params& params, const ft::RegularizationContext&) {
  const double alpha = params.get_finite("alpha", 0.01);
  if (alpha < 0) params.fail("alpha", "must not be negative");
  const double beta = params.get_finite("beta", 0.01);
  if (beta < 0) params.fail("beta", "must not be negative");
  return std::make_shared<L2SP>(alpha, beta);
}

void register_components(ft::Registry& registry) { registry.add_regularization("l2sp", make_l2sp); }

}  // namespace

FT_PLUGIN("l2sp", "1.0.0", register_components)
