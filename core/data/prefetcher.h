#pragma once
// Decodes the batches of a streaming split ahead of the model on loader threads, in step order. Splits held in
// memory need no loader: their batches are cut on the device.

#include "data/batch_source.h"

#include <deque>
#include <future>

namespace ft {

class Prefetcher {
 public:
  /// Batches of `batch_size` examples of `source`, taken in `order` (indices into the split). Training passes
  /// `draw`, the epoch's seed for datasets that augment while decoding.
  Prefetcher(const BatchSource& source, torch::Tensor order, std::int64_t batch_size, std::int64_t threads,
             std::optional<std::uint64_t> draw = std::nullopt);

  std::int64_t batches() const { return (order_.size(0) + batch_size_ - 1) / batch_size_; }
  /// The split indices of batch `step`.
  torch::Tensor indices(std::int64_t step) const;
  /// Batch `step`; training passes `augment` and its generator, evaluation neither.
  Batch next(std::int64_t step, const AugmentConfig* augment = nullptr, at::Generator* generator = nullptr);

 private:
  const BatchSource& source_;
  torch::Tensor order_;
  std::int64_t batch_size_, threads_;
  std::optional<std::uint64_t> draw_;
  std::int64_t next_to_launch_ = 0;
  std::deque<std::future<NamedTensors>> pending_;
};

}  // namespace ft
