#pragma once
// The parameters Adam and AdamW share, read the same way for both plugins.

#include <ftsdk/params.h>

#include <vector>

namespace ft_plugins {

/// Reads lr (required), betas, eps, weight_decay (default `default_weight_decay`) and amsgrad into Options
/// (torch::optim::AdamOptions or AdamWOptions).
template <class Options>
Options read_adam_options(const ft::Params& params, double default_weight_decay) {
  const double lr = params.required_finite("lr");
  if (lr <= 0) params.fail("lr", "must be positive");
  const auto betas = params.get<std::vector<double>>("betas", {0.9, 0.999});
  if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1) {
    params.fail("betas", "expected two numbers in [0, 1), e.g. [0.9, 0.999]");
  }
  const double eps = params.get_finite("eps", 1e-8);
  if (eps <= 0) params.fail("eps", "must be positive");
  const double weight_decay = params.get_finite("weight_decay", default_weight_decay);
  if (weight_decay < 0) params.fail("weight_decay", "must not be negative");
  return Options(lr)
      .betas({betas[0], betas[1]})
      .eps(eps)
      .weight_decay(weight_decay)
      .amsgrad(params.get<bool>("amsgrad", false));
}

}  // namespace ft_plugins
