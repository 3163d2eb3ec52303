// rmsprop: LibTorch's RMSprop (PyTorch's torch.optim.RMSprop): each step divides the gradient by a running root
// mean square of past gradients; optional momentum, centring and L2 weight decay. PyTorch's defaults.
//   lr (required), alpha (0.99), eps (1e-8), weight_decay (0), momentum (0), centered (false)
#include <ftsdk/plugin.h>

#include <torch/optim/rmsprop.h>

namespace {

std::shared_ptr<torch::optim::Optimizer> make_rmsprop(const ft::Params& params, const ft::OptimizerContext& ctx) {
  const double lr = params.required_finite("lr");
  const double alpha = params.get_finite("alpha", 0.99);
  const double eps = params.get_finite("eps", 1e-8);
  const double weight_decay = params.get_finite("weight_decay", 0.0);
  const double momentum = params.get_finite("momentum", 0.0);
  if (lr <= 0) params.fail("lr", "must be positive");
  if (alpha < 0 || alpha >= 1) params.fail("alpha", "must be in [0, 1)");
  if (eps <= 0) params.fail("eps", "must be positive");
  if (weight_decay < 0) params.fail("weight_decay", "must not be negative");
  if (momentum < 0) params.fail("momentum", "must not be negative");
  const auto base = torch::optim::RMSpropOptions(lr)
                        .alpha(alpha)
                        .eps(eps)
                        .weight_decay(weight_decay)
                        .momentum(momentum)
                        .centered(params.get<bool>("centered", false));
  return std::make_shared<torch::optim::RMSprop>(ft::make_param_groups(ctx, base), base);
}

void register_components(ft::Registry& registry) { registry.add_optimizer("rmsprop", make_rmsprop); }

}  // namespace

FT_PLUGIN("rmsprop", "1.0.0", register_components)
