#pragma once
// Batches of one split on the device, as named tensors (ftsdk/tensors.h): a split held in memory is copied to the
// device once (images as uint8) and batched with index_select; other splits are gathered example by example (on
// loader threads, see prefetcher.h). `images` are normalised to float; every other tensor is handed over as the
// dataset made it (token ids, attention masks, labels).

#include "config/experiment.h"

#include <ftsdk/dataset.h>
#include <ftsdk/regularization.h>

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>
#include <torch/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ft {

/// Stacks one name's example tensors into a batch tensor. Examples that differ only in their first dimension (a
/// ragged tensor: an image's boxes) are padded with zeros to the longest, and `<name>_count` is added to `batch`
/// (ftsdk/tensors.h, kCountSuffix); images of several sizes are padded below and right to the largest, rounded up
/// to a multiple of 32 (ftsdk/tensors.h, kImages); examples of one shape are stacked, with no count. Throws
/// DataError naming the tensor when examples differ otherwise.
torch::Tensor collate(const std::string& name, const std::vector<torch::Tensor>& tensors, NamedTensors& batch);

class BatchSource {
 public:
  BatchSource(std::shared_ptr<const Split> split, const DatasetInfo& info, c10::Device device,
              bool channels_last = false);
  /// Batches of precomputed inputs (a frozen backbone's features, loop/feature_cache.h): cut from `inputs` as
  /// they are, neither normalised nor augmented, wherever they are kept (the device, host memory, a mapped file),
  /// and handed out as float32 on `device`.
  BatchSource(torch::Tensor inputs, torch::Tensor labels, c10::Device device);

  std::int64_t size() const { return size_; }
  bool in_memory() const { return !tensors_.empty(); }

  /// Decodes the examples at `indices` on the calling thread (a loader thread): their tensors stacked on the host,
  /// in pinned memory when the device is a GPU so the copy can overlap.
  /// With `draw` (training), examples come from Split::get_for_training, each seeded by `draw` and its index.
  NamedTensors gather(const torch::Tensor& indices, std::optional<std::uint64_t> draw = std::nullopt) const;
  /// True when the split augments while decoding (Split::draws_random).
  bool draws_random() const { return split_ && split_->draws_random(); }

  /// A batch on the device from host data (`gather`) or, for in-memory splits, from `indices`. Training batches'
  /// images also pass through `augment` (crop, flip) before normalisation.
  Batch batch(const torch::Tensor& indices, const NamedTensors* host = nullptr, const AugmentConfig* augment = nullptr,
              at::Generator* generator = nullptr, std::optional<std::uint64_t> draw = std::nullopt) const;

 private:
  std::shared_ptr<const Split> split_;
  c10::Device device_;
  bool channels_last_ = false;
  bool precomputed_ = false;
  std::int64_t size_ = 0;
  NamedTensors tensors_;  // the whole split, for in-memory and precomputed sources
  torch::Tensor mean_, inv_std_;
};

}  // namespace ft
