#include "distributed/nccl_backend.h"

#include <ftsdk/error.h>

#ifdef FTRUN_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#else
#include <torch/csrc/distributed/c10d/Backend.hpp>
#endif

namespace ft {

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout) {
#ifdef FTRUN_WITH_NCCL
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world_size, options);
#else
  (void)store, (void)rank, (void)world_size, (void)timeout;
  throw ConfigError(
      "this ftrun was built without NCCL's header (nccl.h was not found when it was configured): set "
      "distributed.backend = \"gloo\", or install NCCL's development files and rebuild");
#endif
}

}  // namespace ft
