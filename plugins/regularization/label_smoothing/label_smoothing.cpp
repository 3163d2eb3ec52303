// label_smoothing: cross-entropy against targets mixed with the uniform distribution (Szegedy et al., 2016):
// the model is not pushed towards infinitely confident logits, which helps most on small fine-tuning sets.
#include <ftsdk/plugin.h>

#include <torch/nn/functional/loss.h>

namespace {

class LabelSmoothing final : public ft::Regularization {
 public:
  explicit LabelSmoothing(double epsilon) : epsilon_(epsilon) {}

  std::optional<torch::Tensor> loss(const torch::Tensor& logits, const ft::Batch& batch,
                                    const torch::Tensor&) override {
    return torch::nn::functional::cross_entropy(
        logits, batch.at(ft::tensor_names::kTargets),
        torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(epsilon_));
  }

 private:
  double epsilon_;
};

std::shared_ptr<ft::Regularization> make_label_smoothing(const ft::Params& params, const ft::RegularizationContext&) {
  const double epsilon = params.get_finite("epsilon", 0.1);
  if (epsilon < 0 || epsilon >= 1) params.fail("epsilon", "must be in [0, 1)");
  return std::make_shared<LabelSmoothing>(epsilon);
}

void register_components(ft::Registry& registry) {
  registry.add_regularization("label_smoothing", make_label_smoothing);
}

}  // namespace

FT_PLUGIN("label_smoothing", "1.0.0", register_components)
