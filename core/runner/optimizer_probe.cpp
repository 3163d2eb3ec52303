#include "runner/optimizer_probe.h"

#include "loader/plugin_catalog.h"
#include "model/training_state.h"

#include <torch/torch.h>

namespace ft {
namespace {

// The factory may log; the probe's copies should not repeat what the real optimizer already said.
class SilentLogger final : public Logger {
 public:
  void log(LogLevel, std::string_view) override {}
};

std::vector<torch::Tensor> stand_in_weights(std::size_t groups) {
  std::vector<torch::Tensor> weights;
  for (std::size_t g = 0; g < groups; ++g) {
    weights.push_back((torch::linspace(-1, 1, 12).reshape({4, 3}) + static_cast<double>(g)).requires_grad_());
  }
  return weights;
}

// A deterministic gradient that differs per step, so that momentum and moment estimates matter.
void step(torch::optim::Optimizer& optimizer, std::vector<torch::Tensor>& weights, int k) {
  for (auto& w : weights) w.mutable_grad() = torch::sin(w.detach() * k) + 0.1 * k;
  optimizer.step();
}

}  // namespace

std::string probe_optimizer(PluginCatalog& catalog, const std::string& type, const Params& params, std::size_t groups) {
  SilentLogger silent;
  auto make = [&](std::vector<torch::Tensor>& weights) {
    std::vector<ParamGroupSpec> specs;
    for (std::size_t g = 0; g < weights.size(); ++g) specs.push_back({"probe" + std::to_string(g), {weights[g]}, 1.0});
    return catalog.make_optimizer(type, params, {specs, silent});
  };
  auto weights = stand_in_weights(groups);
  auto original = make(weights);
  for (auto& group : original->param_groups()) {
    try {
      group.options().set_lr(group.options().get_lr());
    } catch (const std::exception&) {
      throw PluginError("optimizer '" + type + "' (" + catalog.origin("optimizer", type).plugin->path +
                        "): its options do not implement get_lr() and set_lr(), which learning-rate schedules, "
                        "warm-up and lr_mult need; override both in its OptimizerOptions subclass (see "
                        "docs/plugins.md, \"What each kind must implement\")");
    }
  }
  try {
    step(*original, weights, 1);
    step(*original, weights, 2);
  } catch (const std::exception& e) {
    // A value LibTorch cannot use, such as lr = 1e300 (beyond a float: "value cannot be converted to type float
    // without overflow"): said before the run is recorded, as the configuration problem it is.
    const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
    throw ConfigError(params.where().str() + ": optimizer '" + type + "' cannot take a step with these values (" +
                      (torch_error ? torch_error->what_without_backtrace() : e.what()) + "); check [" +
                      params.section() + "]'s numbers");
  }

  std::vector<torch::Tensor> copied;
  for (const auto& w : weights) copied.push_back(w.detach().clone().requires_grad_());
  auto restored = make(copied);
  std::string failure;
  try {
    load_optimizer(*restored, save_optimizer(*original));
  } catch (const std::exception& e) {
    failure = std::string("loading its saved state failed: ") + e.what();
  }
  if (failure.empty()) {
    step(*original, weights, 3);
    step(*restored, copied, 3);
    for (std::size_t g = 0; g < weights.size(); ++g) {
      // NaN equals NaN here: a learning rate a plugin let through as inf makes both copies NaN alike, which is a
      // faithful restore, not a broken one.
      if (!torch::allclose(weights[g], copied[g], 0.0, 0.0, /*equal_nan=*/true)) {
        failure = "a copy restored from its saved state steps differently";
      }
    }
  }
  if (failure.empty()) return {};
  return "optimizer '" + type + "' (" + catalog.origin("optimizer", type).plugin->path + "): " + failure +
         ", so `ftrun resume` will not continue its runs exactly; implement save() and load() for all of its state "
         "(see docs/plugins.md, \"What each kind must implement\")";
}

}  // namespace ft
