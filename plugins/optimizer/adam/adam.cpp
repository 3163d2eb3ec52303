// adam: Adam with L2 weight decay added to the gradient (coupled), and optional AMSGrad; ATen's fused kernel steps
// it (fused_adam.h).
#include "../adam_options.h"
#include "../fused_adam.h"

#include <ftsdk/plugin.h>

#include <torch/optim/adam.h>

namespace {

std::shared_ptr<torch::optim::Optimizer> make_adam(const ft::Params& params, const ft::OptimizerContext& ctx) {
  const auto base = ft_plugins::read_adam_options<torch::optim::AdamOptions>(params, 0.0);
  return std::make_shared<ft_plugins::FusedAdamOptimizer>(ft::make_param_groups(ctx, base), base);
}

void register_components(ft::Registry& registry) { registry.add_optimizer("adam", make_adam); }

}  // namespace

FT_PLUGIN("adam", "1.0.0", register_components)
