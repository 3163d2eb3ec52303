// linear: the classic replacement head, one fully connected layer from features to classes.
#include <ftsdk/plugin.h>

#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

namespace {

class LinearHead final : public ft::Head {
 public:
  LinearHead(std::int64_t in, std::int64_t classes, double dropout)
      : dropout_(register_module("dropout", torch::nn::Dropout(dropout))),
        fc_(register_module("fc", torch::nn::Linear(in, classes))) {}
  torch::Tensor forward(torch::Tensor features) override { return fc_->forward(dropout_->forward(features)); }

 private:
  torch::nn::Dropout dropout_;
  torch::nn::Linear fc_;
};

std::shared_ptr<ft::Head> make_linear(const ft::Params& params, const ft::HeadContext& ctx) {
  const auto dropout = params.get_finite("dropout", 0.0);
  if (dropout < 0 || dropout >= 1) params.fail("dropout", "must be in [0, 1)");
  return std::make_shared<LinearHead>(ctx.in_features, ctx.num_classes, dropout);
}

void register_components(ft::Registry& registry) { registry.add_head("linear", make_linear); }

}  // namespace

FT_PLUGIN("linear", "1.0.0", register_components)
