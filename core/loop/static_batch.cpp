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

StaticBatch::StaticBatch(const Batch& example) {
  for (const auto& [name, tensor] : example) batch_[name] = buffer_like(tensor);
}

bool StaticBatch::fits(const Batch& batch) const {
  if (batch.names() != batch_.names()) return false;
  for (const auto& [name, tensor] : batch) {
    if (!same_shape(tensor, batch_.at(name))) return false;
  }
  return true;
}

void StaticBatch::load(const Batch& batch) {
  if (!fits(batch)) throw Error("a batch of another shape cannot run in the captured CUDA graph");
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : batch) batch_.at(name).copy_(tensor);
}

}  // namespace ft
