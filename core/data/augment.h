#pragma once
// Batched augmentation on the device: every image of a batch gets its own random crop offset and flip, in a
// handful of tensor operations, so no per-image host work happens per step.

#include "config/experiment.h"

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace ft {

/// Augments `images` ([N, C, H, W], float, pixel values before normalisation) per `config`, drawing random
/// numbers from `generator` (a CPU generator, so runs are reproducible on any device).
torch::Tensor augment_batch(const torch::Tensor& images, const AugmentConfig& config, at::Generator& generator);

}  // namespace ft
