#pragma once
// The processes of one data-parallel run, connected with torch.distributed's C++ core (c10d): a TCPStore served
// by rank 0 at MASTER_ADDR:MASTER_PORT for the rendezvous, and a Gloo (CPU) or NCCL (CUDA) backend for the
// collectives. Only what the loop needs is exposed: broadcast from rank 0, sums across ranks, and text handed
// from rank 0 to the others.

#include "data/sharding.h"
#include "training/launch_environment.h"

#include <ftsdk/error.h>

#include <c10/core/Device.h>
#include <torch/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace c10d {
class Backend;
class Store;
class Work;
}  // namespace c10d

namespace ft {

/// A collective failed: another process died, was killed, or stopped answering within the timeout.
class LostProcess : public Error {
 public:
  using Error::Error;
};

class ProcessGroup {
 public:
  /// Meets the other processes of `launch` at rank 0's store, waiting at most `timeout` for them (and for any
  /// text shared later). Texts can be shared from here on; collectives need connect(). Throws Error when the
  /// others cannot be reached.
  ProcessGroup(const LaunchEnvironment& launch, std::chrono::milliseconds timeout);
  ~ProcessGroup();

  /// Starts the collectives' backend for tensors on `device`: `backend` "auto" (NCCL on CUDA, Gloo on the CPU),
  /// "gloo" or "nccl", waiting at most `timeout` in any one collective. Throws ConfigError for an unusable backend.
  void connect(c10::Device device, const std::string& backend, std::chrono::milliseconds timeout);
  bool connected() const;

  int rank() const { return launch_.rank; }
  int world_size() const { return launch_.world_size; }
  bool leader() const { return launch_.rank == 0; }
  Shard shard() const { return {launch_.rank, launch_.world_size}; }
  const LaunchEnvironment& launch() const { return launch_; }
  const std::string& backend_name() const { return backend_name_; }
  c10::Device device() const { return device_; }

  /// Copies rank 0's values of `tensors` into every rank's, in place.
  void broadcast(const std::vector<torch::Tensor>& tensors);
  /// Sums `tensor` across ranks in place (on its device; no host sync on CUDA) and waits for it.
  void sum(torch::Tensor& tensor);
  /// Starts summing `tensor` across ranks in place; wait() for the result before reading it.
  c10::intrusive_ptr<c10d::Work> sum_async(torch::Tensor& tensor);
  /// Waits for a collective; its failure becomes LostProcess.
  void wait(const c10::intrusive_ptr<c10d::Work>& work);
  /// Rank 0's `value` under `key`, on every rank (rank 0 returns its own).
  std::string share_text(const std::string& key, const std::string& value);

 private:
  LaunchEnvironment launch_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::string backend_name_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;
  std::int64_t shared_texts_ = 0;
  /// A collective was abandoned (a stop signal while a peer stalled): its work may never finish.
  bool abandoned_ = false;
};

/// The device rank `local_rank` trains on: cuda:LOCAL_RANK when the run asks for CUDA (or "auto" finds it),
/// else the CPU.
c10::Device distributed_device(const std::string& requested, int local_rank);

}  // namespace ft
