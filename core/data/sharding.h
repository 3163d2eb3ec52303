#pragma once
// Which examples each process sees. Every process draws the same permutation of the training split for an epoch
// (seeded by the run's seed and the epoch, as DistributedSampler.set_epoch does), and takes every world-th example
// of it from its rank on: batch t of rank r then holds examples t*B*W + k*W + r, so the W batches of one step
// together are exactly batch t of a single process with batch B*W. The tail that does not divide evenly is left
// out of that epoch (fewer than W examples, a different few each epoch), so the shards are disjoint and equal,
// where DistributedSampler would repeat examples to pad them. Evaluation splits are cut into W contiguous
// ranges instead, each example counted exactly once.

#include <torch/types.h>

#include <cstdint>
#include <utility>

namespace ft {

struct Shard {
  int rank = 0;
  int world = 1;
};

/// A seed for one purpose of one epoch of one run ("stream" names the purpose), well mixed (SplitMix64).
std::uint64_t derived_seed(std::uint64_t seed, std::int64_t epoch, std::uint64_t stream);

/// This process's indices into the training split for `epoch`, in step order.
torch::Tensor epoch_order(std::int64_t size, std::uint64_t seed, std::int64_t epoch, Shard shard);

/// This process's contiguous range [first, last) of an evaluation split of `size` examples.
std::pair<std::int64_t, std::int64_t> evaluation_range(std::int64_t size, Shard shard);

}  // namespace ft
