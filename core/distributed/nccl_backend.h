#pragma once
// NCCL's backend, in a file of its own: it is the only one that needs the CUDA and NCCL headers.

#include <c10/util/intrusive_ptr.h>

#include <chrono>

namespace c10d {
class Backend;
class Store;
}  // namespace c10d

namespace ft {

/// A NCCL backend over `store`; a ConfigError when ftrun was built without NCCL's header.
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                    int world_size, std::chrono::milliseconds timeout);

}  // namespace ft
