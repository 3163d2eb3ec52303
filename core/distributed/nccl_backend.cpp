#include "distributed/nccl_backend.h"

#include <ftsdk/error.h>

#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

namespace ft {

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, options);
}

}  // namespace ft
