#pragma once
// Averages gradients across the processes of a data-parallel run, in buckets of about 25 MB all-reduced while
// backward is still running, as PyTorch's DDP does. Buckets hold the parameters in reverse order (backward
// reaches the last layers first) and are launched strictly in bucket order, so every rank issues the same
// collectives in the same order. A parameter whose gradient never comes (unused in this step) is sent as zeros
// when backward ends, so no rank waits for it.
//
// Why not c10d's Reducer: it is built for Python's DDP (bucket assignment, comm hooks and unused-parameter
// search are set up from Python), and its constructor changed across releases. These buckets are ~150 lines
// whose behaviour with gradient accumulation is explicit: only the last micro-batch of a step syncs.

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace c10d {
class Work;
}

namespace ft {

class ProcessGroup;

class GradientSync {
 public:
  GradientSync(ProcessGroup& group, const std::vector<torch::Tensor>& parameters,
               std::int64_t bucket_bytes = 25 * 1024 * 1024);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  /// The next backward is the last of an optimizer step: its gradients are all-reduced as they are ready.
  /// Backwards without arm() accumulate locally (DDP's no_sync).
  void arm();
  /// After the armed backward: launches what is left, waits, and writes the averages into every `.grad`.
  void finish();

  std::size_t bucket_count() const { return buckets_.size(); }

  /// Called by the autograd hook of parameter `index` once its gradient is accumulated.
  void gradient_ready(std::size_t index);

 private:
  struct Bucket {
    std::vector<std::size_t> members;  // indices into parameters_
    std::vector<std::int64_t> offsets;
    torch::Tensor flat;
    std::size_t pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };
  void launch_ready_buckets();
  void launch(Bucket& bucket);

  ProcessGroup& group_;
  std::vector<torch::Tensor> parameters_;
  std::vector<std::size_t> bucket_of_;
  std::vector<Bucket> buckets_;
  std::size_t next_launch_ = 0;
  bool armed_ = false;
  std::mutex mutex_;
};

}  // namespace ft
