#include "loop/static_batch.h"

#include <ftsdk/error.h>

#include <torch/torch.h>

namespace ft {
namespace {

torch::Tensor buffer_like(const torch::Tensor& tensor) {
  const auto format = tensor.dim() == 4 && tensor.is_contiguous(at::MemoryFormat::ChannelsLast)
                          ? at::MemoryFormat::ChannelsLast
                          : at::MemoryFormat::Contiguous;
  return torch::empty(tensor.sizes(), tensor.options().memory_format(format));
}

bool same_shape(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && a.device() == b.device();
}

}  // namespace

StaticBatch::StaticBatch(const Batch& example) : batch_{buffer_like(example.inputs), buffer_like(example.targets)} {}

bool StaticBatch::fits(const Batch& batch) const {
  return same_shape(batch.inputs, batch_.inputs) && same_shape(batch.targets, batch_.targets);
}

void StaticBatch::load(const Batch& batch) {
  if (!fits(batch)) throw Error("a batch of another shape cannot run in the captured CUDA graph");
  torch::NoGradGuard no_grad;
  batch_.inputs.copy_(batch.inputs);
  batch_.targets.copy_(batch.targets);
}

}  // namespace ft
