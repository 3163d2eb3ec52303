#pragma once
// Choosing the device and the CPU thread count.

#include "training/cpu_threads.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ft {

/// "auto" → CUDA when a GPU is visible, else CPU; "cuda"/"cuda:N" → that GPU or a clear error; "cpu" → CPU.
c10::Device resolve_device(const std::string& requested);

/// Bytes free on CUDA device `device` now (cudaMemGetInfo, what torch.cuda.mem_get_info reads), or nothing for
/// another device or when the query fails.
std::optional<std::int64_t> free_device_memory(const c10::Device& device);

/// Sets LibTorch's intra-op threads: `requested`, or default_thread_count() when 0. Returns the count set.
/// LibTorch's own default is not relied on (Debian's build picked 1 on a 2-core machine).
int configure_threads(std::int64_t requested);

}  // namespace ft
