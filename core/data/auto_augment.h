#pragma once
// TrivialAugmentWide (Müller and Hutter, 2021) and RandAugment (Cubuk et al., 2020) on the device, as
// torchvision.transforms.v2 defines them: the same 14 operations (identity, shears, translations, rotation,
// brightness, colour, contrast, sharpness, posterize, solarize, autocontrast, equalize), the same magnitude bins and
// sign draws, nearest-neighbour sampling with black fill. Images are float [N, C, H, W] in 0..255, before
// normalisation; every image draws its own operations from the run's generator. Images that drew the same
// operation and magnitude are transformed together.

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <string>

namespace ft {

enum class AugmentOp {
  identity,
  shear_x,
  shear_y,
  translate_x,
  translate_y,
  rotate,
  brightness,
  color,
  contrast,
  sharpness,
  posterize,
  solarize,
  auto_contrast,
  equalize,
};
inline constexpr int kAugmentOps = 14;

/// torchvision's name of `op` ("ShearX", ...).
std::string augment_op_name(AugmentOp op);

/// Applies `op` with `magnitude` (signed, in torchvision's units: shear factor, pixels, degrees, factor - 1, bits,
/// threshold in [0, 1]) to every image.
torch::Tensor apply_augment_op(const torch::Tensor& images, AugmentOp op, double magnitude);

/// TrivialAugmentWide: per image, one operation and one of 31 magnitude bins, uniformly.
torch::Tensor trivial_augment(const torch::Tensor& images, at::Generator& generator);

/// RandAugment: per image, `num_ops` operations drawn uniformly in turn, each at bin `magnitude` of 31.
torch::Tensor rand_augment(const torch::Tensor& images, std::int64_t num_ops, std::int64_t magnitude,
                           at::Generator& generator);

}  // namespace ft
