#pragma once
/// @file
/// A check a plugin makes before allocating a large model, so that one too large for the machine is a clear
/// ResourceError (exit code 6) rather than an allocator failing deep inside LibTorch. (ftsdk 2.1)

#include <ftsdk/error.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace ft {

/// Throws ResourceError when `bytes`, about to be allocated on the host for `what`, exceed the memory the host has
/// available now (MemAvailable in /proc/meminfo; no check where that cannot be read).
///
/// Example:
///   ft::check_host_memory(4.0 * parameter_count, "backbone convnet (width " + std::to_string(width) + ")");
inline void check_host_memory(double bytes, const std::string& what) {
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  std::int64_t kilobytes = 0;
  while (meminfo >> key >> kilobytes >> unit) {
    if (key != "MemAvailable:") continue;
    const double available = static_cast<double>(kilobytes) * 1024;
    if (bytes <= available) return;
    char text[160];
    std::snprintf(text, sizeof text, " needs %.1f GB for its parameters; the host has %.1f GB available", bytes / 1e9,
                  available / 1e9);
    throw ResourceError(what + text);
  }
}

}  // namespace ft
