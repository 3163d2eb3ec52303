#pragma once
// Allocation failures told apart from other errors, and reported with what was asked for and what there is: a
// model too large for the machine, or a batch too large for the GPU, is a resource problem (exit code 6), not a
// plugin's or LibTorch's crash.

#include <c10/core/Device.h>

#include <cstdint>
#include <exception>
#include <optional>
#include <string>

namespace ft {

/// True for std::bad_alloc, LibTorch's out-of-memory error (CUDA's caching allocator) and its CPU allocator's
/// "can't allocate memory".
bool is_allocation_failure(const std::exception& error);

/// The bytes an allocation error says were asked for ("you tried to allocate 400000000000 bytes", "Tried to
/// allocate 20.00 GiB"), or nothing.
std::optional<double> requested_bytes(const std::string& message);

/// Bytes the host can still give (MemAvailable), or nothing when /proc/meminfo does not say.
std::optional<std::int64_t> available_host_memory();

/// "asked for 400.0 GB; 20.1 GB of host memory is available" (the device's free memory on a GPU), from `error`'s
/// message and the machine's state now.
std::string memory_report(const std::exception& error, const c10::Device& device);

}  // namespace ft
