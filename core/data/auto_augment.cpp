#include "data/auto_augment.h"

#include "data/augment.h"

#include <torch/torch.h>

#include <cmath>
#include <map>
#include <utility>
#include <vector>

namespace ft {
namespace {

constexpr std::int64_t kBins = 31;
constexpr double kPi = 3.14159265358979323846;

// torchvision's _get_inverse_affine_matrix (inverted): the map from output to input pixel coordinates, centred.
std::vector<double> inverse_affine(double cx, double cy, double angle, double tx, double ty, double shear_x,
                                   double shear_y) {
  const double rot = angle * kPi / 180, sx = shear_x * kPi / 180, sy = shear_y * kPi / 180;
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -(a * std::tan(sx) + std::sin(rot));
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = std::cos(rot) - c * std::tan(sx);
  std::vector<double> m{d, -b, 0.0, -c, a, 0.0};
  m[2] += cx - m[0] * (cx + tx) - m[1] * (cy + ty);
  m[5] += cy - m[3] * (cx + tx) - m[4] * (cy + ty);
  return m;
}

// torchvision's _affine_grid and _apply_grid_transform with nearest sampling and no fill (zeros), in float32 as
// torchvision computes them, so the sampled pixels are the same.
torch::Tensor warp(const torch::Tensor& images, const std::vector<double>& matrix) {
  const auto h = images.size(2), w = images.size(3);
  const auto options = images.options().dtype(torch::kFloat32);
  const auto theta = torch::tensor(std::vector<float>(matrix.begin(), matrix.end()), options).reshape({1, 2, 3});
  auto base = torch::empty({1, h, w, 3}, options);
  base.select(3, 0).copy_(torch::linspace((1.0 - w) * 0.5, (w - 1.0) * 0.5, w, options));
  base.select(3, 1).copy_(torch::linspace((1.0 - h) * 0.5, (h - 1.0) * 0.5, h, options).unsqueeze(-1));
  base.select(3, 2).fill_(1);
  const auto rescaled = theta.transpose(1, 2).div(torch::tensor({0.5f * w, 0.5f * h}, options));
  const auto grid = base.view({1, h * w, 3}).bmm(rescaled).view({1, h, w, 2}).expand({images.size(0), h, w, 2});
  namespace F = torch::nn::functional;
  return F::grid_sample(
             images.to(torch::kFloat32), grid,
             F::GridSampleFuncOptions().mode(torch::kNearest).padding_mode(torch::kZeros).align_corners(false))
      .to(images.scalar_type());
}

torch::Tensor rotate(const torch::Tensor& images, double angle) {
  angle = std::fmod(angle, 360.0);
  if (angle < 0) angle += 360.0;
  // torchvision's exact paths for right angles.
  if (angle == 0) return images.clone();
  if (angle == 180) return torch::rot90(images, 2, {-2, -1});
  if (images.size(2) == images.size(3) && angle == 90) return torch::rot90(images, 1, {-2, -1});
  if (images.size(2) == images.size(3) && angle == 270) return torch::rot90(images, 3, {-2, -1});
  return warp(images, inverse_affine(0, 0, -angle, 0, 0, 0, 0));
}

torch::Tensor sharpness(const torch::Tensor& images, double factor) {
  const auto c = images.size(1), h = images.size(2), w = images.size(3);
  if (h <= 2 || w <= 2) return images;
  const double a = 1.0 / 13.0, b = 5.0 / 13.0;
  const auto kernel =
      torch::tensor({a, a, a, a, b, a, a, a, a}, images.options()).view({1, 1, 3, 3}).expand({c, 1, 3, 3});
  auto output = images.clone();
  const auto blurred =
      torch::nn::functional::conv2d(output, kernel, torch::nn::functional::Conv2dFuncOptions().groups(c));
  using torch::indexing::Slice;
  auto view = output.index({Slice(), Slice(), Slice(1, -1), Slice(1, -1)});
  view.add_(blurred.sub(view), 1.0 - factor);
  return output.clamp_(0, 255);
}

torch::Tensor posterize(const torch::Tensor& images, std::int64_t bits) {
  const double levels = static_cast<double>(std::int64_t{1} << bits);
  return (images / 255).mul(levels).floor_().clamp_(0, levels - 1).mul_(1.0 / levels) * 255;
}

torch::Tensor auto_contrast(const torch::Tensor& images) {
  auto minimum = images.amin({-2, -1}, true), maximum = images.amax({-2, -1}, true);
  const auto flat = maximum == minimum;
  auto inverse_scale = (maximum - minimum) / 255;
  minimum = minimum.masked_fill(flat, 0.0);
  inverse_scale = inverse_scale.masked_fill(flat, 1.0);
  return images.sub(minimum).div_(inverse_scale).clamp_(0, 255);
}

// torchvision's equalize_image: through uint8 (x * 255.999, truncated), PIL's lookup table per image and channel.
torch::Tensor equalize(const torch::Tensor& images) {
  const auto n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const auto bytes = (images.to(torch::kFloat32) / 255).mul(255 + 1.0 - 1e-3).to(torch::kUInt8);
  const auto flat = bytes.view({n * c, h * w}).to(torch::kLong);
  auto hist = torch::zeros({n * c, 256}, flat.options().dtype(torch::kInt32));
  hist.scatter_add_(1, flat, torch::ones({1}, hist.options()).expand_as(flat));
  auto cumulative = hist.cumsum(1, torch::kInt32);
  const auto top = cumulative.argmax(1, true);
  const auto non_max = (h * w) - hist.gather(1, top);
  auto step = non_max.div(255, "floor");
  const auto valid = step.ne(0);
  using torch::indexing::Slice;
  auto lut = cumulative.index({Slice(), Slice(0, -1)})
                 .add(step.div(2, "floor"))
                 .div(step.clamp_min(1), "floor")
                 .clamp_(0, 255);
  lut = torch::cat({torch::zeros({n * c, 1}, lut.options()), lut}, 1);
  const auto equalized = lut.gather(1, flat).to(torch::kFloat32);
  const auto result = torch::where(valid, equalized, flat.to(torch::kFloat32));
  return result.view({n, c, h, w}).to(images.scalar_type());
}

// A bin of torch.linspace(start, end, 31), as torchvision reads it (float32).
double linspace_bin(double start, double end, std::int64_t bin) {
  return torch::linspace(start, end, kBins, torch::kFloat32)[bin].item<double>();
}

// Posterize's bits at `bin`: 8 - round(bin / ((31 - 1) / span)), span 6 (TrivialAugmentWide) or 4 (RandAugment).
double posterize_bin(double span, std::int64_t bin) {
  return (8 - (torch::arange(kBins, torch::kFloat32) / ((kBins - 1) / span))).round()[bin].item<double>();
}

struct Space {
  double shear, rotate, factor, posterize_span;
  bool wide;
};

// The magnitude of `op` at `bin` in a space (TrivialAugmentWide's, or RandAugment's), unsigned, and whether it
// takes a random sign.
std::pair<double, bool> magnitude_of(AugmentOp op, std::int64_t bin, const Space& space, std::int64_t h,
                                     std::int64_t w) {
  switch (op) {
    case AugmentOp::shear_x:
    case AugmentOp::shear_y: return {linspace_bin(0.0, space.shear, bin), true};
    case AugmentOp::translate_x: return {linspace_bin(0.0, space.wide ? 32.0 : 150.0 / 331.0 * w, bin), true};
    case AugmentOp::translate_y: return {linspace_bin(0.0, space.wide ? 32.0 : 150.0 / 331.0 * h, bin), true};
    case AugmentOp::rotate: return {linspace_bin(0.0, space.rotate, bin), true};
    case AugmentOp::brightness:
    case AugmentOp::color:
    case AugmentOp::contrast:
    case AugmentOp::sharpness: return {linspace_bin(0.0, space.factor, bin), true};
    case AugmentOp::posterize: return {posterize_bin(space.posterize_span, bin), false};
    case AugmentOp::solarize: return {linspace_bin(1.0, 0.0, bin), false};
    default: return {0.0, false};
  }
}

const Space kWide{0.99, 135.0, 0.99, 6.0, true};
const Space kRand{0.3, 30.0, 0.9, 4.0, false};

// One round: every image gets the operation `ops[i]` at `magnitudes[i]`; images with the same pair go together.
torch::Tensor apply_per_image(const torch::Tensor& images, const std::vector<std::pair<AugmentOp, double>>& draws) {
  std::map<std::pair<int, double>, std::vector<std::int64_t>> groups;
  for (std::size_t i = 0; i < draws.size(); ++i) {
    if (draws[i].first == AugmentOp::identity) continue;
    groups[{static_cast<int>(draws[i].first), draws[i].second}].push_back(static_cast<std::int64_t>(i));
  }
  if (groups.empty()) return images;
  auto out = images.clone();
  for (const auto& [key, members] : groups) {
    const auto index = torch::tensor(members, torch::kLong).to(images.device());
    out.index_copy_(0, index,
                    apply_augment_op(images.index_select(0, index), static_cast<AugmentOp>(key.first), key.second));
  }
  return out;
}

std::vector<std::pair<AugmentOp, double>> draw_ops(std::int64_t n, const Space& space, std::int64_t fixed_bin,
                                                   std::int64_t h, std::int64_t w, at::Generator& generator) {
  const auto ops = torch::randint(kAugmentOps, {n}, generator, torch::kLong);
  const auto bins = torch::randint(kBins, {n}, generator, torch::kLong);
  const auto signs = torch::rand({n}, generator, torch::kFloat64);
  std::vector<std::pair<AugmentOp, double>> draws;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto op = static_cast<AugmentOp>(ops[i].item<std::int64_t>());
    auto [magnitude, is_signed] =
        magnitude_of(op, fixed_bin >= 0 ? fixed_bin : bins[i].item<std::int64_t>(), space, h, w);
    if (is_signed && signs[i].item<double>() <= 0.5) magnitude = -magnitude;
    draws.emplace_back(op, magnitude);
  }
  return draws;
}

}  // namespace

std::string augment_op_name(AugmentOp op) {
  static const char* const kNames[] = {"Identity",  "ShearX",     "ShearY",       "TranslateX", "TranslateY",
                                       "Rotate",    "Brightness", "Color",        "Contrast",   "Sharpness",
                                       "Posterize", "Solarize",   "AutoContrast", "Equalize"};
  return kNames[static_cast<int>(op)];
}

torch::Tensor apply_augment_op(const torch::Tensor& images, AugmentOp op, double magnitude) {
  const auto n = images.size(0);
  const double h = static_cast<double>(images.size(2)), w = static_cast<double>(images.size(3));
  const auto factors = torch::full({n}, 1.0 + magnitude, torch::kFloat64);
  const double shear = std::atan(magnitude) * 180 / kPi;
  switch (op) {
    case AugmentOp::identity: return images;
    // Shears turn about the top-left corner (torchvision passes center = [0, 0]).
    case AugmentOp::shear_x: return warp(images, inverse_affine(-w * 0.5, -h * 0.5, 0, 0, 0, shear, 0));
    case AugmentOp::shear_y: return warp(images, inverse_affine(-w * 0.5, -h * 0.5, 0, 0, 0, 0, shear));
    case AugmentOp::translate_x: return warp(images, inverse_affine(0, 0, 0, std::trunc(magnitude), 0, 0, 0));
    case AugmentOp::translate_y: return warp(images, inverse_affine(0, 0, 0, 0, std::trunc(magnitude), 0, 0));
    case AugmentOp::rotate: return rotate(images, magnitude);
    case AugmentOp::brightness: return adjust_brightness(images, factors);
    case AugmentOp::color: return adjust_saturation(images, factors);
    case AugmentOp::contrast: return adjust_contrast(images, factors);
    case AugmentOp::sharpness: return sharpness(images, 1.0 + magnitude);
    case AugmentOp::posterize: return posterize(images, static_cast<std::int64_t>(magnitude));
    case AugmentOp::solarize: return torch::where(images / 255 >= magnitude, 255 - images, images);
    case AugmentOp::auto_contrast: return auto_contrast(images);
    case AugmentOp::equalize: return equalize(images);
  }
  return images;
}

torch::Tensor trivial_augment(const torch::Tensor& images, at::Generator& generator) {
  return apply_per_image(images, draw_ops(images.size(0), kWide, -1, images.size(2), images.size(3), generator));
}

torch::Tensor rand_augment(const torch::Tensor& images, std::int64_t num_ops, std::int64_t magnitude,
                           at::Generator& generator) {
  auto out = images;
  for (std::int64_t round = 0; round < num_ops; ++round) {
    out = apply_per_image(out, draw_ops(out.size(0), kRand, magnitude, out.size(2), out.size(3), generator));
  }
  return out;
}

}  // namespace ft
