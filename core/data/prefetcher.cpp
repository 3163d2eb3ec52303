#include "data/prefetcher.h"

#include <torch/torch.h>

#include <algorithm>

namespace ft {

Prefetcher::Prefetcher(const BatchSource& source, torch::Tensor order, std::int64_t batch_size, std::int64_t threads,
                       std::optional<std::uint64_t> draw)
    : source_(source), order_(std::move(order)), batch_size_(batch_size), threads_(threads), draw_(draw) {}

torch::Tensor Prefetcher::indices(std::int64_t step) const {
  return order_.slice(0, step * batch_size_, std::min((step + 1) * batch_size_, order_.size(0)));
}

Batch Prefetcher::next(std::int64_t step, const AugmentConfig* augment, at::Generator* generator) {
  if (source_.in_memory() || threads_ == 0) {
    return source_.batch(indices(step), nullptr, augment, generator, draw_);
  }
  // Up to two batches per thread in flight: enough to hide decoding behind the step without holding an epoch.
  while (next_to_launch_ < batches() && next_to_launch_ < step + 2 * threads_) {
    pending_.push_back(
        std::async(std::launch::async, [this, k = next_to_launch_] { return source_.gather(indices(k), draw_); }));
    ++next_to_launch_;
  }
  auto host = pending_.front().get();
  pending_.pop_front();
  return source_.batch(indices(step), &host, augment, generator);
}

}  // namespace ft
