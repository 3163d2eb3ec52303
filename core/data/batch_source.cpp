#include "data/batch_source.h"

#include "data/augment.h"
#include "data/sharding.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ft {

BatchSource::BatchSource(std::shared_ptr<const Split> split, const DatasetInfo& info, c10::Device device,
                         bool channels_last)
    : split_(std::move(split)), device_(device), channels_last_(channels_last), size_(split_->size()) {
  const auto channels = info.input.channels;
  if (channels > 0 && static_cast<std::int64_t>(info.mean.size()) == channels) {
    auto options = torch::TensorOptions().dtype(torch::kFloat32);
    mean_ = torch::tensor(info.mean, options).view({1, channels, 1, 1}).to(device) * 255.0;
    inv_std_ = (1.0 / (torch::tensor(info.std, options).view({1, channels, 1, 1}) * 255.0)).to(device);
  }
  if (auto tensors = split_->tensors()) {
    for (const auto& [name, tensor] : *tensors) tensors_[name] = tensor.to(device);
  }
}

BatchSource::BatchSource(torch::Tensor inputs, torch::Tensor labels, c10::Device device)
    : device_(device), precomputed_(true), size_(inputs.size(0)) {
  tensors_[tensor_names::kImages] = std::move(inputs);
  tensors_[tensor_names::kLabels] = std::move(labels);
}

namespace {

// torchvision's size_divisible: a padded side is a multiple of the stride of a ResNet's last stage, so that every
// level of a feature pyramid covers the batch exactly.
constexpr std::int64_t kPaddedSideMultiple = 32;

std::int64_t round_up(std::int64_t value, std::int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

// Images of one channel count but several sizes (a detection set's own sizes): each at the top left of a zero
// canvas as large as the largest, each side rounded up to kPaddedSideMultiple, as torchvision's batch_images.
std::optional<torch::Tensor> pad_images(const std::vector<torch::Tensor>& tensors) {
  const auto& first = tensors.front();
  if (first.dim() != 3) return std::nullopt;
  std::int64_t height = 0, width = 0;
  for (const auto& image : tensors) {
    if (image.dim() != 3 || image.size(0) != first.size(0)) return std::nullopt;
    height = std::max(height, image.size(1));
    width = std::max(width, image.size(2));
  }
  auto padded = torch::zeros({static_cast<std::int64_t>(tensors.size()), first.size(0),
                              round_up(height, kPaddedSideMultiple), round_up(width, kPaddedSideMultiple)},
                             first.options());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& image = tensors[i];
    padded[static_cast<std::int64_t>(i)].narrow(1, 0, image.size(1)).narrow(2, 0, image.size(2)).copy_(image);
  }
  return padded;
}

// 1 on each image's own pixels (`image_sizes`: its height and width at the top left), 0 on the padding beyond, so
// that padding is 0 once normalised (the mean colour), as torchvision pads after normalising. Computed on the
// batch's device: no host read.
torch::Tensor own_pixels(const torch::Tensor& image_sizes, const torch::Tensor& images) {
  const auto n = images.size(0);
  const auto options = torch::TensorOptions().dtype(torch::kInt64).device(images.device());
  const auto sizes = image_sizes.to(images.device()).view({n, 2});
  const auto rows = torch::arange(images.size(2), options).view({1, 1, -1, 1}) < sizes.select(1, 0).view({n, 1, 1, 1});
  const auto columns =
      torch::arange(images.size(3), options).view({1, 1, 1, -1}) < sizes.select(1, 1).view({n, 1, 1, 1});
  return (rows & columns).to(images.dtype());
}

}  // namespace

torch::Tensor collate(const std::string& name, const std::vector<torch::Tensor>& tensors, NamedTensors& batch) {
  const auto first = tensors.front().sizes();
  bool same = true, ragged = first.size() > 0;
  for (const auto& tensor : tensors) {
    const auto sizes = tensor.sizes();
    same = same && sizes == first;
    ragged = ragged && sizes.size() == first.size() && sizes.slice(1) == first.slice(1);
  }
  if (same) return torch::stack(tensors);
  if (name == tensor_names::kImages) {
    if (auto padded = pad_images(tensors)) return *padded;
  }
  if (!ragged) {
    const auto shape = [](const torch::Tensor& tensor) { return c10::str(tensor.sizes()); };
    const auto other = std::find_if(tensors.begin(), tensors.end(),
                                    [&](const torch::Tensor& tensor) { return tensor.sizes() != first; });
    throw DataError("the dataset's examples differ in the shape of '" + name + "' (" + shape(tensors.front()) +
                    " and " + shape(*other) +
                    "): examples may differ only in the first dimension (a ragged tensor, such as an image's "
                    "boxes), images in their height and width, or not at all");
  }
  // A ragged tensor: padded with zeros to the longest example, with each example's count beside it.
  std::int64_t longest = 0;
  std::vector<std::int64_t> counts;
  for (const auto& tensor : tensors) {
    counts.push_back(tensor.size(0));
    longest = std::max(longest, tensor.size(0));
  }
  std::vector<std::int64_t> shape{static_cast<std::int64_t>(tensors.size()), longest};
  for (std::size_t d = 1; d < first.size(); ++d) shape.push_back(first[d]);
  auto padded = torch::zeros(shape, tensors.front().options());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    padded[static_cast<std::int64_t>(i)].narrow(0, 0, counts[i]).copy_(tensors[i]);
  }
  batch[name + tensor_names::kCountSuffix] = torch::tensor(counts, torch::kInt64);
  return padded;
}

NamedTensors BatchSource::gather(const torch::Tensor& indices, std::optional<std::uint64_t> draw) const {
  std::map<std::string, std::vector<torch::Tensor>> parts;
  const auto* index = indices.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < indices.numel(); ++i) {
    Example example =
        draw ? split_->get_for_training(index[i], derived_seed(*draw, index[i], 0)) : split_->get(index[i]);
    for (const auto& [name, tensor] : example) parts[name].push_back(tensor);
  }
  NamedTensors out;
  for (auto& [name, tensors] : parts) out[name] = collate(name, tensors, out);
  if (device_.is_cuda()) {
    for (auto& [name, tensor] : out) tensor = tensor.pin_memory();
  }
  return out;
}

Batch BatchSource::batch(const torch::Tensor& indices, const NamedTensors* host, const AugmentConfig* augment,
                         at::Generator* generator, std::optional<std::uint64_t> draw) const {
  Batch out;
  if (precomputed_) {
    const auto where = indices.to(tensors_.at(tensor_names::kImages).device());
    for (const auto& [name, tensor] : tensors_) {
      out[name] = tensor.index_select(0, where).to(device_, /*non_blocking=*/true);
    }
    out[tensor_names::kImages] = out[tensor_names::kImages].to(torch::kFloat32);
    return out;
  }
  if (in_memory()) {
    const auto on_device = indices.to(device_);
    for (const auto& [name, tensor] : tensors_) out[name] = tensor.index_select(0, on_device);
  } else {
    const NamedTensors gathered = host ? *host : gather(indices, draw);
    for (const auto& [name, tensor] : gathered) out[name] = tensor.to(device_, /*non_blocking=*/true);
  }
  if (out.contains(tensor_names::kImages) && mean_.defined()) {
    auto pixels = out[tensor_names::kImages].to(torch::kFloat32);
    if (augment) pixels = augment_batch(pixels, *augment, *generator, mean_);
    auto inputs = (pixels - mean_) * inv_std_;
    if (out.contains(tensor_names::kImageSizes)) inputs = inputs * own_pixels(out[tensor_names::kImageSizes], inputs);
    if (channels_last_) inputs = inputs.contiguous(at::MemoryFormat::ChannelsLast);
    out[tensor_names::kImages] = inputs;
  }
  return out;
}

}  // namespace ft
