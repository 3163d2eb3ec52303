#pragma once
// torchvision's standard image transforms on decoded images: Resize + CenterCrop for evaluation, RandomResizedCrop
// for training (torchvision.transforms.v2, bilinear with antialiasing), producing uint8 [3, size, size].

#include "image_decode.h"

#include <torch/types.h>

#include <random>

namespace ft_plugins {

/// A crop window in the full-size image's pixels.
struct CropBox {
  int top = 0, left = 0, height = 0, width = 0;
};

/// torchvision's RandomResizedCrop.get_params: a window of `scale` of the area and aspect ratio in `ratio` (drawn
/// log-uniformly), 10 tries, then the central crop of the largest allowed ratio.
CropBox random_resized_crop_box(int width, int height, std::mt19937_64& random, double min_scale, double max_scale,
                                double min_ratio, double max_ratio);

/// How much a JPEG may be shrunk while decoding so that `box` still has at least `size` pixels on each side.
double max_reduction(const CropBox& box, std::int64_t size);

/// Resize(resize_size) then CenterCrop(crop_size): the shorter side becomes resize_size, the longer in proportion
/// (rounded down, as torchvision does), then the central crop_size square.
torch::Tensor resize_center_crop(const RgbImage& image, std::int64_t resize_size, std::int64_t crop_size);

/// The window `box` (full-size pixels; scaled when the image was decoded at a reduced size) resized to
/// size x size.
torch::Tensor crop_resize(const RgbImage& image, const CropBox& box, std::int64_t size);

}  // namespace ft_plugins
