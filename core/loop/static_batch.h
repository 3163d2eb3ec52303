#pragma once
// The fixed-shape input buffers a captured CUDA graph reads from. A CUDA graph replays the exact kernels it
// captured, on the exact memory: every batch it runs must be copied into the same tensors, with the same shape,
// dtype and memory format. Batches of another shape (an epoch's last, smaller batch) run outside the graph.

#include <ftsdk/regularization.h>

#include <torch/types.h>

namespace ft {

class StaticBatch {
 public:
  /// Buffers shaped like `example` (sizes, dtype, device and memory format of its inputs and targets).
  explicit StaticBatch(const Batch& example);
  /// True when `batch` can be copied into these buffers: the same sizes and dtypes.
  bool fits(const Batch& batch) const;
  /// Copies `batch` into the buffers (in place: the graph keeps reading the same memory).
  void load(const Batch& batch);
  Batch& batch() { return batch_; }

 private:
  Batch batch_;
};

}  // namespace ft
