#pragma once
/// @file
/// Optimizer plugins: turn parameter groups into a `torch::optim::Optimizer`.

#include <ftsdk/logger.h>

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace ft {

/// A set of parameters that share a learning rate, e.g. the backbone (slower) and the head.
struct ParamGroupSpec {
  /// Name recorded in the store, e.g. "backbone" or "head".
  std::string name;
  /// The trainable parameters of the group.
  std::vector<torch::Tensor> params;
  /// Multiplier on the optimizer's base learning rate (`lr_mult` of the backbone, 1 for the head).
  double lr_scale = 1.0;
};

/// What an optimizer factory is given besides its parameters.
struct OptimizerContext {
  /// The groups, in order; the optimizer must create one `OptimizerParamGroup` per entry, in the same order,
  /// with learning rate `lr * lr_scale`.
  std::vector<ParamGroupSpec> groups;
  /// Where to write messages.
  Logger& log;
};

/// One `OptimizerParamGroup` per group of `ctx`, each a copy of `base` with learning rate
/// `base.lr() * lr_scale`. Options is any LibTorch options type with `lr` (SGDOptions, AdamWOptions, ...).
///
/// Example:
///   auto base = torch::optim::SGDOptions(lr).momentum(0.9);
///   return std::make_shared<torch::optim::SGD>(ft::make_param_groups(ctx, base), base);
template <class Options>
std::vector<torch::optim::OptimizerParamGroup> make_param_groups(const OptimizerContext& ctx, const Options& base) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (const auto& spec : ctx.groups) {
    auto options = std::make_unique<Options>(base);
    options->lr(base.lr() * spec.lr_scale);
    groups.emplace_back(spec.params, std::move(options));
  }
  return groups;
}

}  // namespace ft
