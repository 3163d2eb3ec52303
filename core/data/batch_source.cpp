#include "data/batch_source.h"

#include "data/augment.h"
#include "data/sharding.h"

#include <torch/torch.h>

#include <vector>

namespace ft {

BatchSource::BatchSource(std::shared_ptr<const Split> split, const DatasetInfo& info, c10::Device device,
                         bool channels_last)
    : split_(std::move(split)), device_(device), channels_last_(channels_last), size_(split_->size()) {
  const auto channels = info.input.channels;
  auto options = torch::TensorOptions().dtype(torch::kFloat32);
  mean_ = torch::tensor(info.mean, options).view({1, channels, 1, 1}).to(device) * 255.0;
  inv_std_ = (1.0 / (torch::tensor(info.std, options).view({1, channels, 1, 1}) * 255.0)).to(device);
  if (auto tensors = split_->tensors()) {
    images_ = tensors->images.to(device);
    labels_ = tensors->labels.to(device);
  }
}

BatchSource::BatchSource(torch::Tensor inputs, torch::Tensor labels, c10::Device device)
    : device_(device),
      precomputed_(true),
      size_(inputs.size(0)),
      images_(std::move(inputs)),
      labels_(std::move(labels)) {}

std::pair<torch::Tensor, torch::Tensor> BatchSource::gather(const torch::Tensor& indices,
                                                            std::optional<std::uint64_t> draw) const {
  std::vector<torch::Tensor> pixels;
  std::vector<std::int64_t> classes;
  const auto* index = indices.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < indices.numel(); ++i) {
    Example example =
        draw ? split_->get_for_training(index[i], derived_seed(*draw, index[i], 0)) : split_->get(index[i]);
    pixels.push_back(example.image);
    classes.push_back(example.label);
  }
  auto images = torch::stack(pixels);
  if (device_.is_cuda()) images = images.pin_memory();
  return {images, torch::tensor(classes, torch::kLong)};
}

Batch BatchSource::batch(const torch::Tensor& indices, const std::pair<torch::Tensor, torch::Tensor>* host,
                         const AugmentConfig* augment, at::Generator* generator,
                         std::optional<std::uint64_t> draw) const {
  torch::Tensor images, labels;
  if (precomputed_) {
    const auto where = indices.to(images_.device());
    return {images_.index_select(0, where).to(device_, torch::kFloat32, /*non_blocking=*/true),
            labels_.index_select(0, where).to(device_, /*non_blocking=*/true)};
  }
  if (in_memory()) {
    const auto on_device = indices.to(device_);
    images = images_.index_select(0, on_device);
    labels = labels_.index_select(0, on_device);
  } else {
    const auto gathered = host ? *host : gather(indices, draw);
    images = gathered.first.to(device_, /*non_blocking=*/true);
    labels = gathered.second.to(device_, /*non_blocking=*/true);
  }
  auto pixels = images.to(torch::kFloat32);
  if (augment) pixels = augment_batch(pixels, *augment, *generator, mean_);
  auto inputs = (pixels - mean_) * inv_std_;
  if (channels_last_) inputs = inputs.contiguous(at::MemoryFormat::ChannelsLast);
  return {inputs, labels};
}

}  // namespace ft
