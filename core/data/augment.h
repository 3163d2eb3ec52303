#pragma once
// Batched augmentation on the device: every image of a batch gets its own random crop offset, flip, colour
// factors and erased box, in a handful of tensor operations; the few random numbers are drawn on the host from
// the run's generator (reproducible on any device), so no per-image work runs on the host per step.

#include "config/experiment.h"

#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace ft {

/// Augments `images` ([N, C, H, W], float pixel values in 0..255, before normalisation) per `config`, drawing
/// random numbers from `generator` (a CPU generator). `mean` ([1, C, 1, 1], 0..255) is what erased boxes take.
torch::Tensor augment_batch(const torch::Tensor& images, const AugmentConfig& config, at::Generator& generator,
                            const torch::Tensor& mean);

// The operations, with their parameters given (per image: `factors` [N]), as torchvision.transforms.v2.functional
// defines them on float images; tested against it.
torch::Tensor adjust_brightness(const torch::Tensor& images, const torch::Tensor& factors);
torch::Tensor adjust_contrast(const torch::Tensor& images, const torch::Tensor& factors);
torch::Tensor adjust_saturation(const torch::Tensor& images, const torch::Tensor& factors);
/// Each image's window `boxes[i]` = (top, left, height, width) resized back to the image's size (bilinear, the
/// window's own pixels; only the output's first and last rows and columns may blend in the pixels just outside it).
torch::Tensor resized_crop(const torch::Tensor& images, const torch::Tensor& boxes);
/// Fills box [top, top + height) x [left, left + width) of each image (`boxes` [N, 4] int64; height 0: none)
/// with `value` ([1, C, 1, 1]).
torch::Tensor erase(const torch::Tensor& images, const torch::Tensor& boxes, const torch::Tensor& value);

}  // namespace ft
