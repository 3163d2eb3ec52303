// adamw: AdamW: Adam with decoupled weight decay (Loshchilov and Hutter), the usual choice for fine-tuning; ATen's
// fused kernel steps it (fused_adam.h).
#include "../adam_options.h"
#include "../fused_adam.h"

#include <ftsdk/plugin.h>

#include <torch/optim/adamw.h>

namespace {

std::shared_ptr<torch::optim::Optimizer> make_adamw(const ft::Params& params, const ft::OptimizerContext& ctx) {
  const auto base = ft_plugins::read_adam_options<torch::optim::AdamWOptions>(params, 0.01);
  return std::make_shared<ft_plugins::FusedAdamWOptimizer>(ft::make_param_groups(ctx, base), base);
}

void register_components(ft::Registry& registry) { registry.add_optimizer("adamw", make_adamw); }

}  // namespace

FT_PLUGIN("adamw", "1.0.0", register_components)
