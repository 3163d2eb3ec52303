#include "data/batch_source.h"

#include "data/augment.h"
#include "data/sharding.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
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

torch::Tensor collate(const std::string& name, const std::vector<torch::Tensor>& tensors, NamedTensors& batch) {
  const auto first = tensors.front().sizes();
  bool same = true, ragged = first.size() > 0;
  for (const auto& tensor : tensors) {
    const auto sizes = tensor.sizes();
    same = same && sizes == first;
    ragged = ragged && sizes.size() == first.size() && sizes.slice(1) == first.slice(1);
  }
  if (same) return torch::stack(tensors);
  if (!ragged) {
    const auto shape = [](const torch::Tensor& tensor) { return c10::str(tensor.sizes()); };
    const auto other = std::find_if(tensors.begin(), tensors.end(),
                                    [&](const torch::Tensor& tensor) { return tensor.sizes() != first; });
    throw DataError("the dataset's examples differ in the shape of '" + name + "' (" + shape(tensors.front()) +
                    " and " + shape(*other) +
                    "): examples may differ only in the first dimension (a ragged tensor, such as an image's "
                    "boxes), or not at all");
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
    if (channels_last_) inputs = inputs.contiguous(at::MemoryFormat::ChannelsLast);
    out[tensor_names::kImages] = inputs;
  }
  return out;
}

}  // namespace ft
