// mlp: hidden layers with ReLU and dropout before the classifier, for features that need a non-linear readout.
#include <ftsdk/plugin.h>

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

namespace {

class MlpHead final : public ft::Head {
 public:
  MlpHead(std::int64_t in, const std::vector<std::int64_t>& hidden, std::int64_t classes, double dropout) {
    torch::nn::Sequential layers;
    for (const auto width : hidden) {
      layers->push_back(torch::nn::Linear(in, width));
      layers->push_back(torch::nn::ReLU());
      layers->push_back(torch::nn::Dropout(dropout));
      in = width;
    }
    layers->push_back(torch::nn::Linear(in, classes));
    layers_ = register_module("layers", layers);
  }
  torch::Tensor forward(torch::Tensor features) override { return layers_->forward(features); }

 private:
  torch::nn::Sequential layers_{nullptr};
};

std::shared_ptr<ft::Head> make_mlp(const ft::Params& params, const ft::HeadContext& ctx) {
  const auto hidden = params.get<std::vector<std::int64_t>>("hidden", {256});
  for (const auto width : hidden) {
    if (width < 1) params.fail("hidden", "every hidden width must be at least 1");
  }
  const auto dropout = params.get_finite("dropout", 0.5);
  if (dropout < 0 || dropout >= 1) params.fail("dropout", "must be in [0, 1)");
  return std::make_shared<MlpHead>(ctx.in_features, hidden, ctx.num_classes, dropout);
}

void register_components(ft::Registry& registry) { registry.add_head("mlp", make_mlp); }

}  // namespace

FT_PLUGIN("mlp", "1.0.0", register_components)
