// adagrad: LibTorch's Adagrad (PyTorch's torch.optim.Adagrad): each coordinate's step shrinks with the sum of its
// past squared gradients. PyTorch's defaults.
//   lr (required), lr_decay (0), weight_decay (0), initial_accumulator_value (0), eps (1e-10)
#include <ftsdk/plugin.h>

#include <torch/optim/adagrad.h>

namespace {

std::shared_ptr<torch::optim::Optimizer> make_adagrad(const ft::Params& params, const ft::OptimizerContext& ctx) {
  const double lr = params.required_finite("lr");
  const double lr_decay = params.get_finite("lr_decay", 0.0);
  const double weight_decay = params.get_finite("weight_decay", 0.0);
  const double initial = params.get_finite("initial_accumulator_value", 0.0);
  const double eps = params.get_finite("eps", 1e-10);
  if (lr <= 0) params.fail("lr", "must be positive");
  if (lr_decay < 0) params.fail("lr_decay", "must not be negative");
  if (weight_decay < 0) params.fail("weight_decay", "must not be negative");
  if (initial < 0) params.fail("initial_accumulator_value", "must not be negative");
  if (eps <= 0) params.fail("eps", "must be positive");
  const auto base = torch::optim::AdagradOptions(lr)
                        .lr_decay(lr_decay)
                        .weight_decay(weight_decay)
                        .initial_accumulator_value(initial)
                        .eps(eps);
  return std::make_shared<torch::optim::Adagrad>(ft::make_param_groups(ctx, base), base);
}

void register_components(ft::Registry& registry) { registry.add_optimizer("adagrad", make_adagrad); }

}  // namespace

FT_PLUGIN("adagrad", "1.0.0", register_components)
