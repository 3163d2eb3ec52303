#pragma once
// The feature cache on disk: one file per split, written once and memory-mapped by every run that computes the
// same activations (the same prefix weights, data and dtype; loop/feature_cache.h makes the key).
//
// Layout: a 4 KiB header (magic, format version, key, dtype, example count and per-example shape), the
// activations as one row-major array, then the labels as int64. A file is written under a temporary name and
// renamed when complete, so a run that stops half-way leaves no file that looks usable; a file whose header or
// size does not match is ignored and written again.

#include <torch/types.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace ft {

struct CachedActivations {
  /// [examples, ...] in the cache's dtype, and [examples] int64; memory-mapped when read from a file.
  torch::Tensor inputs, labels;
};

/// Writes a cache file batch by batch; nothing is visible under `path` until commit().
class FeatureCacheWriter {
 public:
  FeatureCacheWriter(std::string path, std::string key, torch::ScalarType dtype, std::vector<std::int64_t> shape,
                     std::int64_t examples);
  ~FeatureCacheWriter();
  FeatureCacheWriter(const FeatureCacheWriter&) = delete;
  FeatureCacheWriter& operator=(const FeatureCacheWriter&) = delete;

  /// Appends a batch of activations ([n, shape...], the writer's dtype, any device) and their labels.
  void append(const torch::Tensor& inputs, const torch::Tensor& labels);
  /// Flushes the file to disk and gives it its final name.
  void commit();

 private:
  std::string path_, partial_;
  std::FILE* file_ = nullptr;
  std::int64_t examples_ = 0, written_ = 0, row_bytes_ = 0;
  std::vector<std::int64_t> labels_;
};

/// The cache at `path` when it exists, is complete and was made with `key` for `examples` examples; nothing
/// otherwise (the caller computes it again).
std::optional<CachedActivations> open_feature_cache(const std::string& path, const std::string& key,
                                                    std::int64_t examples);

}  // namespace ft
