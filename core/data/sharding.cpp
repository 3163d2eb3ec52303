#include "data/sharding.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

namespace ft {

std::uint64_t derived_seed(std::uint64_t seed, std::int64_t epoch, std::uint64_t stream) {
  auto mix = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ static_cast<std::uint64_t>(epoch)) ^ stream);
}

torch::Tensor epoch_order(std::int64_t size, std::uint64_t seed, std::int64_t epoch, Shard shard) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(derived_seed(seed, epoch, /*stream=*/0));
  auto order = torch::randperm(size, generator, torch::kLong);
  if (shard.world == 1) return order;
  const std::int64_t kept = size / shard.world * shard.world;
  return order.slice(0, shard.rank, kept, shard.world).contiguous();
}

std::pair<std::int64_t, std::int64_t> evaluation_range(std::int64_t size, Shard shard) {
  return {size * shard.rank / shard.world, size * (shard.rank + 1) / shard.world};
}

}  // namespace ft
