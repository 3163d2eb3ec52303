// sgd: stochastic gradient descent with momentum, Nesterov momentum and (coupled) weight decay.
#include <ftsdk/plugin.h>

#include <torch/optim/sgd.h>

namespace {

std::shared_ptr<torch::optim::Optimizer> make_sgd(const ft::Params& params, const ft::OptimizerContext& ctx) {
  const double lr = params.required_finite("lr");
  if (lr <= 0) params.fail("lr", "must be positive");
  const double momentum = params.get_finite("momentum", 0.0);
  if (momentum < 0 || momentum >= 1) params.fail("momentum", "must be in [0, 1)");
  const double dampening = params.get_finite("dampening", 0.0);
  const double weight_decay = params.get_finite("weight_decay", 0.0);
  if (weight_decay < 0) params.fail("weight_decay", "must not be negative");
  const bool nesterov = params.get<bool>("nesterov", false);
  if (nesterov && (momentum <= 0 || dampening != 0)) {
    params.fail("nesterov", "needs momentum > 0 and dampening = 0");
  }
  const auto base = torch::optim::SGDOptions(lr)
                        .momentum(momentum)
                        .dampening(dampening)
                        .weight_decay(weight_decay)
                        .nesterov(nesterov);
  return std::make_shared<torch::optim::SGD>(ft::make_param_groups(ctx, base), base);
}

void register_components(ft::Registry& registry) { registry.add_optimizer("sgd", make_sgd); }

}  // namespace

FT_PLUGIN("sgd", "1.0.0", register_components)
