#include "distributed/gradient_sync.h"

#include "distributed/process_group.h"

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

namespace ft {
namespace {

class ReadyHook : public torch::autograd::PostAccumulateGradHook {
 public:
  ReadyHook(GradientSync& sync, std::size_t index) : sync_(sync), index_(index) {}
  void operator()(const torch::autograd::Variable&) override { sync_.gradient_ready(index_); }

 private:
  GradientSync& sync_;
  std::size_t index_;
};

}  // namespace

GradientSync::GradientSync(ProcessGroup& group, const std::vector<torch::Tensor>& parameters, std::int64_t bucket_bytes)
    : group_(group) {
  for (const auto& parameter : parameters) {
    if (parameter.requires_grad()) parameters_.push_back(parameter);
  }
  bucket_of_.resize(parameters_.size());
  // Reverse order; a bucket closes at the byte cap or where the dtype changes (one flat tensor per bucket).
  Bucket current;
  std::int64_t bytes = 0;
  auto close = [&] {
    if (current.members.empty()) return;
    const auto& first = parameters_[current.members.front()];
    std::int64_t numel = 0;
    for (auto index : current.members) {
      current.offsets.push_back(numel);
      numel += parameters_[index].numel();
    }
    current.flat = torch::zeros({numel}, first.options().requires_grad(false));
    buckets_.push_back(std::move(current));
    current = Bucket{};
    bytes = 0;
  };
  for (std::size_t i = parameters_.size(); i-- > 0;) {
    const auto& parameter = parameters_[i];
    if (!current.members.empty() && parameters_[current.members.front()].dtype() != parameter.dtype()) close();
    current.members.push_back(i);
    bucket_of_[i] = buckets_.size();
    bytes += parameter.numel() * static_cast<std::int64_t>(parameter.element_size());
    if (bytes >= bucket_bytes) close();
  }
  close();
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    torch::autograd::impl::set_post_acc_grad_hooks(parameters_[i], std::make_unique<ReadyHook>(*this, i));
  }
}

GradientSync::~GradientSync() {
  for (auto& parameter : parameters_) torch::autograd::impl::set_post_acc_grad_hooks(parameter, nullptr);
}

void GradientSync::arm() {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = true;
  next_launch_ = 0;
  for (auto& bucket : buckets_) {
    bucket.pending = bucket.members.size();
    bucket.work.reset();
  }
}

void GradientSync::gradient_ready(std::size_t index) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) return;
  auto& bucket = buckets_[bucket_of_[index]];
  if (bucket.pending > 0) --bucket.pending;
  launch_ready_buckets();
}

void GradientSync::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) launch(buckets_[next_launch_++]);
}

void GradientSync::launch(Bucket& bucket) {
  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k < bucket.members.size(); ++k) {
    const auto& parameter = parameters_[bucket.members[k]];
    auto slot = bucket.flat.narrow(0, bucket.offsets[k], parameter.numel());
    const auto grad = parameter.grad();
    if (grad.defined())
      slot.copy_(grad.reshape({-1}));
    else
      slot.zero_();
  }
  // Dividing before the sum keeps fp16/bf16 gradients in range, as DDP does.
  bucket.flat.div_(group_.world_size());
  bucket.work = group_.sum_async(bucket.flat);
}

void GradientSync::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!armed_) return;
  // Buckets whose gradients did not all come (parameters unused this step) go now, still in order.
  while (next_launch_ < buckets_.size()) launch(buckets_[next_launch_++]);
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    group_.wait(bucket.work);
    for (std::size_t k = 0; k < bucket.members.size(); ++k) {
      auto& parameter = parameters_[bucket.members[k]];
      auto averaged = bucket.flat.narrow(0, bucket.offsets[k], parameter.numel()).view(parameter.sizes());
      if (parameter.grad().defined()) {
        parameter.mutable_grad().copy_(averaged);
      } else {
        parameter.mutable_grad() = averaged.clone();
      }
    }
  }
  armed_ = false;
}

}  // namespace ft
