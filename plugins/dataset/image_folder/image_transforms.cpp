#include "image_transforms.h"

#include <torch/torch.h>

#include <algorithm>
#include <cfenv>
#include <cmath>

namespace ft_plugins {
namespace {

// Bilinear resize with antialiasing of uint8 HWC pixels to uint8 [3, height, width]: LibTorch's uint8 kernel,
// the one torchvision's Resize calls on uint8 tensors, which reads the interleaved (channels-last) pixels as they
// are decoded. It is several times faster than converting to float first, and gives torchvision's exact pixels.
torch::Tensor resize(const torch::Tensor& hwc, std::int64_t height, std::int64_t width) {
  const auto image = hwc.permute({2, 0, 1}).unsqueeze(0);  // [1, 3, H, W] over HWC memory: channels-last
  if (image.size(2) == height && image.size(3) == width) return image.squeeze(0).contiguous();
  return torch::nn::functional::interpolate(image, torch::nn::functional::InterpolateFuncOptions()
                                                       .size(std::vector<std::int64_t>{height, width})
                                                       .mode(torch::kBilinear)
                                                       .align_corners(false)
                                                       .antialias(true))
      .squeeze(0)
      .contiguous();
}

torch::Tensor pixels_of(const RgbImage& image) {
  return torch::from_blob(const_cast<std::uint8_t*>(image.pixels.data()), {image.height, image.width, 3},
                          torch::kUInt8);
}

// Python's round(): halves to even, as torchvision's crop arithmetic uses.
int round_half_even(double x) {
  const int mode = std::fegetround();
  std::fesetround(FE_TONEAREST);
  const double rounded = std::nearbyint(x);
  std::fesetround(mode);
  return static_cast<int>(rounded);
}

}  // namespace

CropBox random_resized_crop_box(int width, int height, std::mt19937_64& random, double min_scale, double max_scale,
                                double min_ratio, double max_ratio) {
  const double area = static_cast<double>(width) * height;
  std::uniform_real_distribution<double> scale(min_scale, max_scale);
  std::uniform_real_distribution<double> log_ratio(std::log(min_ratio), std::log(max_ratio));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * scale(random);
    const double aspect = std::exp(log_ratio(random));
    const int w = round_half_even(std::sqrt(target_area * aspect));
    const int h = round_half_even(std::sqrt(target_area / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int top = std::uniform_int_distribution<int>(0, height - h)(random);
      const int left = std::uniform_int_distribution<int>(0, width - w)(random);
      return {top, left, h, w};
    }
  }
  // Fallback: the central crop whose ratio is the image's, clamped to the allowed range.
  const double in_ratio = static_cast<double>(width) / height;
  int w = width, h = height;
  if (in_ratio < min_ratio) {
    h = round_half_even(w / min_ratio);
  } else if (in_ratio > max_ratio) {
    w = round_half_even(h * max_ratio);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

double max_reduction(const CropBox& box, std::int64_t size) {
  return static_cast<double>(std::min(box.width, box.height)) / static_cast<double>(size);
}

torch::Tensor resize_center_crop(const RgbImage& image, std::int64_t resize_size, std::int64_t crop_size) {
  const std::int64_t h = image.height, w = image.width;
  const std::int64_t short_side = std::min(h, w), long_side = std::max(h, w);
  const auto new_long = static_cast<std::int64_t>(static_cast<double>(resize_size) * long_side / short_side);
  const std::int64_t new_h = h <= w ? resize_size : new_long, new_w = h <= w ? new_long : resize_size;
  auto resized = resize(pixels_of(image), new_h, new_w);
  if (new_h < crop_size || new_w < crop_size) {
    // torchvision pads a crop larger than the image with zeros.
    const std::int64_t pad_h = std::max<std::int64_t>(0, crop_size - new_h),
                       pad_w = std::max<std::int64_t>(0, crop_size - new_w);
    resized = torch::constant_pad_nd(resized, {pad_w / 2, (pad_w + 1) / 2, pad_h / 2, (pad_h + 1) / 2}, 0);
  }
  const int top = round_half_even((resized.size(1) - crop_size) / 2.0);
  const int left = round_half_even((resized.size(2) - crop_size) / 2.0);
  return resized.slice(1, top, top + crop_size).slice(2, left, left + crop_size).contiguous();
}

torch::Tensor crop_resize(const RgbImage& image, const CropBox& box, std::int64_t size) {
  // Scale the window into the decoded image's pixels, at least one pixel wide and inside the image.
  const auto scaled = [&](int value) { return static_cast<int>(std::floor(value * image.scale)); };
  const int top = std::min(scaled(box.top), image.height - 1), left = std::min(scaled(box.left), image.width - 1);
  const int height = std::clamp(static_cast<int>(std::lround(box.height * image.scale)), 1, image.height - top);
  const int width = std::clamp(static_cast<int>(std::lround(box.width * image.scale)), 1, image.width - left);
  // Copied out first: the fast uint8 kernel needs dense rows.
  const auto window = pixels_of(image).slice(0, top, top + height).slice(1, left, left + width).contiguous();
  return resize(window, size, size);
}

}  // namespace ft_plugins
