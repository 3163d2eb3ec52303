// l1: an L1 penalty on the head's weights, lambda * sum |w|, which pushes the new classifier towards sparse
// readouts of the backbone's features. A complete ftrun plugin in one file.
#include <ftsdk/plugin.h>

#include <torch/torch.h>

namespace {

class L1 final : public ft::Regularization {
 public:
  explicit L1(double lambda) : lambda_(lambda) {}

  void attach(torch::nn::Module& model) override {
    for (auto& item : model.named_parameters()) {
      if (item.key().rfind("head.", 0) == 0 && item.value().dim() > 1) weights_.push_back(item.value());
    }
  }

  torch::Tensor penalty(torch::nn::Module&) override {
    torch::Tensor total = torch::zeros({}, weights_.empty() ? torch::kFloat : weights_[0].options());
    for (const auto& weight : weights_) total = total + weight.abs().sum();
    return lambda_ * total;
  }

 private:
  double lambda_;
  std::vector<torch::Tensor> weights_;
};

std::shared_ptr<ft::Regularization> make_l1(const ft::Params& params, const ft::RegularizationContext&) {
  const double lambda = params.get_finite("lambda", 1e-4);
  if (lambda < 0) params.fail("lambda", "must not be negative");
  return std::make_shared<L1>(lambda);
}

void register_components(ft::Registry& registry) { registry.add_regularization("l1", make_l1); }

}  // namespace

FT_PLUGIN("l1", "1.0.0", register_components)
