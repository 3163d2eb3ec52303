#include "data/augment.h"

#include "data/auto_augment.h"

#include <torch/torch.h>

#include <cmath>

namespace ft {
namespace {

constexpr double kMaxPixel = 255.0;

torch::Tensor random_crop(const torch::Tensor& images, std::int64_t padding, at::Generator& generator) {
  const auto n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const auto padded = torch::constant_pad_nd(images, {padding, padding, padding, padding}, 0);
  auto offsets = torch::randint(0, 2 * padding + 1, {2, n}, generator, torch::kLong).to(images.device());
  const auto options = torch::TensorOptions().dtype(torch::kLong).device(images.device());
  // Row and column indices of each image's window inside its padded copy, gathered in two passes.
  const auto rows = (offsets[0].view({n, 1}) + torch::arange(h, options)).view({n, 1, h, 1});
  const auto cols = (offsets[1].view({n, 1}) + torch::arange(w, options)).view({n, 1, 1, w});
  const auto band = padded.gather(2, rows.expand({n, c, h, w + 2 * padding}));
  return band.gather(3, cols.expand({n, c, h, w}));
}

torch::Tensor random_hflip(const torch::Tensor& images, at::Generator& generator) {
  const auto flip = (torch::rand({images.size(0)}, generator) < 0.5).to(images.device()).view({-1, 1, 1, 1});
  return torch::where(flip, images.flip({3}), images);
}

// torchvision's rgb_to_grayscale (ITU-R 601-2 luma); a one-channel image is its own.
torch::Tensor grayscale(const torch::Tensor& images) {
  if (images.size(1) == 1) return images;
  return (images.select(1, 0) * 0.2989 + images.select(1, 1) * 0.587 + images.select(1, 2) * 0.114).unsqueeze(1);
}

// torchvision's _blend: ratio * a + (1 - ratio) * b, clamped to the pixel range.
torch::Tensor blend(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& factors) {
  const auto ratio = factors.to(a.device(), a.scalar_type()).view({-1, 1, 1, 1});
  return (a * ratio + b * (1 - ratio)).clamp(0, kMaxPixel);
}

// ColorJitter(s, s, s): one factor per image and property, uniform in [max(0, 1 - s), 1 + s], applied in an order
// drawn per batch (torchvision draws it per image).
torch::Tensor color_jitter(const torch::Tensor& images, double strength, at::Generator& generator) {
  const auto n = images.size(0);
  const double low = std::max(0.0, 1 - strength), high = 1 + strength;
  const auto factors = torch::rand({3, n}, generator, torch::kFloat64) * (high - low) + low;
  const auto order = torch::randperm(3, generator, torch::kLong);
  auto out = images;
  for (std::int64_t i = 0; i < 3; ++i) {
    const auto which = order[i].item<std::int64_t>();
    if (which == 0) out = adjust_brightness(out, factors[0]);
    if (which == 1) out = adjust_contrast(out, factors[1]);
    if (which == 2) out = adjust_saturation(out, factors[2]);
  }
  return out;
}

// RandomErasing's get_params per image: with probability p, a box of 2-33 % of the area and aspect ratio in
// [0.3, 3.3] (log-uniform), 10 tries to fit, else none.
torch::Tensor erasing_boxes(std::int64_t n, std::int64_t h, std::int64_t w, double p, at::Generator& generator) {
  auto boxes = torch::zeros({n, 4}, torch::kLong);
  auto box = boxes.accessor<std::int64_t, 2>();
  const auto draws = torch::rand({n, 1 + 10 * 4}, generator, torch::kFloat64);
  const auto u = draws.accessor<double, 2>();
  const double log_low = std::log(0.3), log_high = std::log(3.3);
  for (std::int64_t i = 0; i < n; ++i) {
    if (u[i][0] >= p) continue;
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double* r = &u[i][1 + attempt * 4];
      const double area = static_cast<double>(h * w) * (0.02 + r[0] * (0.33 - 0.02));
      const double aspect = std::exp(log_low + r[1] * (log_high - log_low));
      const auto eh = static_cast<std::int64_t>(std::nearbyint(std::sqrt(area * aspect)));
      const auto ew = static_cast<std::int64_t>(std::nearbyint(std::sqrt(area / aspect)));
      if (!(eh < h && ew < w) || eh == 0 || ew == 0) continue;
      box[i][0] = std::min(static_cast<std::int64_t>(r[2] * static_cast<double>(h - eh + 1)), h - eh);
      box[i][1] = std::min(static_cast<std::int64_t>(r[3] * static_cast<double>(w - ew + 1)), w - ew);
      box[i][2] = eh;
      box[i][3] = ew;
      break;
    }
  }
  return boxes;
}

// RandomResizedCrop's get_params per image (scale 0.08-1 of the area, aspect 3/4-4/3 log-uniform, 10 tries, then
// the central crop of the clamped aspect), as [N, 4] int64 boxes: top, left, height, width.
torch::Tensor resized_crop_boxes(std::int64_t n, std::int64_t h, std::int64_t w, at::Generator& generator) {
  auto boxes = torch::zeros({n, 4}, torch::kLong);
  auto box = boxes.accessor<std::int64_t, 2>();
  const auto draws = torch::rand({n, 10 * 4}, generator, torch::kFloat64);
  const auto u = draws.accessor<double, 2>();
  const double log_low = std::log(3.0 / 4.0), log_high = std::log(4.0 / 3.0);
  const double area = static_cast<double>(h * w);
  for (std::int64_t i = 0; i < n; ++i) {
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
      const double* r = &u[i][attempt * 4];
      const double target = area * (0.08 + r[0] * (1.0 - 0.08));
      const double aspect = std::exp(log_low + r[1] * (log_high - log_low));
      const auto cw = static_cast<std::int64_t>(std::nearbyint(std::sqrt(target * aspect)));
      const auto ch = static_cast<std::int64_t>(std::nearbyint(std::sqrt(target / aspect)));
      if (cw <= 0 || cw > w || ch <= 0 || ch > h) continue;
      box[i][0] = std::min(static_cast<std::int64_t>(r[2] * static_cast<double>(h - ch + 1)), h - ch);
      box[i][1] = std::min(static_cast<std::int64_t>(r[3] * static_cast<double>(w - cw + 1)), w - cw);
      box[i][2] = ch;
      box[i][3] = cw;
      found = true;
    }
    if (!found) {
      const double ratio = static_cast<double>(w) / static_cast<double>(h);
      std::int64_t cw = w, ch = h;
      if (ratio < 3.0 / 4.0) ch = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(w) / (3.0 / 4.0)));
      if (ratio > 4.0 / 3.0) cw = static_cast<std::int64_t>(std::nearbyint(static_cast<double>(h) * (4.0 / 3.0)));
      box[i][0] = (h - ch) / 2;
      box[i][1] = (w - cw) / 2;
      box[i][2] = ch;
      box[i][3] = cw;
    }
  }
  return boxes;
}

}  // namespace

torch::Tensor resized_crop(const torch::Tensor& images, const torch::Tensor& boxes) {
  const auto n = images.size(0);
  const double h = static_cast<double>(images.size(2)), w = static_cast<double>(images.size(3));
  const auto b = boxes.to(torch::kFloat64);
  const auto top = b.select(1, 0), left = b.select(1, 1), height = b.select(1, 2), width = b.select(1, 3);
  // An affine map from the output's normalised coordinates to the window's, in the image's normalised frame.
  auto theta = torch::zeros({n, 2, 3}, torch::kFloat64);
  theta.select(1, 0).select(1, 0).copy_(width / w);
  theta.select(1, 0).select(1, 2).copy_((left * 2 + width) / w - 1);
  theta.select(1, 1).select(1, 1).copy_(height / h);
  theta.select(1, 1).select(1, 2).copy_((top * 2 + height) / h - 1);
  namespace F = torch::nn::functional;
  const auto grid = F::affine_grid(theta.to(images.options()), images.sizes(), /*align_corners=*/false);
  return F::grid_sample(
      images, grid,
      F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
}

torch::Tensor adjust_brightness(const torch::Tensor& images, const torch::Tensor& factors) {
  return blend(images, torch::zeros({}, images.options()), factors);
}

torch::Tensor adjust_contrast(const torch::Tensor& images, const torch::Tensor& factors) {
  return blend(images, grayscale(images).mean({1, 2, 3}, /*keepdim=*/true), factors);
}

torch::Tensor adjust_saturation(const torch::Tensor& images, const torch::Tensor& factors) {
  if (images.size(1) == 1) return images;
  return blend(images, grayscale(images), factors);
}

torch::Tensor erase(const torch::Tensor& images, const torch::Tensor& boxes, const torch::Tensor& value) {
  const auto n = images.size(0), h = images.size(2), w = images.size(3);
  const auto b = boxes.to(images.device());
  const auto options = torch::TensorOptions().dtype(torch::kLong).device(images.device());
  const auto rows = torch::arange(h, options).view({1, h, 1}), cols = torch::arange(w, options).view({1, 1, w});
  auto column = [&](int k) { return b.select(1, k).view({n, 1, 1}); };
  const auto inside =
      (rows >= column(0)) & (rows < column(0) + column(2)) & (cols >= column(1)) & (cols < column(1) + column(3));
  return torch::where(inside.unsqueeze(1), value.to(images.options()).expand_as(images), images);
}

torch::Tensor augment_batch(const torch::Tensor& images, const AugmentConfig& config, at::Generator& generator,
                            const torch::Tensor& mean) {
  torch::Tensor out = images;
  if (config.random_resized_crop) {
    out = resized_crop(out, resized_crop_boxes(out.size(0), out.size(2), out.size(3), generator));
  }
  if (config.random_crop) out = random_crop(out, config.crop_padding, generator);
  if (config.hflip) out = random_hflip(out, generator);
  if (config.trivial_augment) out = trivial_augment(out, generator);
  if (config.rand_augment) {
    out = rand_augment(out, config.rand_augment_ops, config.rand_augment_magnitude, generator);
  }
  if (config.color_jitter) out = color_jitter(out, config.jitter_strength, generator);
  if (config.random_erasing) {
    const auto boxes = erasing_boxes(out.size(0), out.size(2), out.size(3), config.erasing_prob, generator);
    out = erase(out, boxes, mean);
  }
  return out;
}

}  // namespace ft
