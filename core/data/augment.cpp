#include "data/augment.h"

#include <torch/torch.h>

namespace ft {
namespace {

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

}  // namespace

torch::Tensor augment_batch(const torch::Tensor& images, const AugmentConfig& config, at::Generator& generator) {
  torch::Tensor out = images;
  if (config.random_crop) out = random_crop(out, config.crop_padding, generator);
  if (config.hflip) out = random_hflip(out, generator);
  return out;
}

}  // namespace ft
