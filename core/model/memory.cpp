#include "model/memory.h"

#include "model/device.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <fstream>
#include <new>
#include <regex>

namespace ft {
namespace {

std::string gigabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GB", bytes / 1e9);
  return text;
}

}  // namespace

bool is_allocation_failure(const std::exception& error) {
  if (dynamic_cast<const std::bad_alloc*>(&error) || dynamic_cast<const c10::OutOfMemoryError*>(&error)) return true;
  const std::string message = error.what();
  return message.find("can't allocate memory") != std::string::npos ||
         message.find("CUDA out of memory") != std::string::npos;
}

std::optional<double> requested_bytes(const std::string& message) {
  static const std::regex cpu(R"(allocate (\d+) bytes)");
  static const std::regex cuda(R"(Tried to allocate ([0-9.]+) (B|KiB|MiB|GiB|TiB))");
  std::smatch match;
  if (std::regex_search(message, match, cpu)) return std::stod(match[1]);
  if (std::regex_search(message, match, cuda)) {
    const std::string unit = match[2];
    const double scale = unit == "TiB"   ? 1099511627776.0
                         : unit == "GiB" ? 1073741824.0
                         : unit == "MiB" ? 1048576.0
                         : unit == "KiB" ? 1024.0
                                         : 1.0;
    return std::stod(match[1]) * scale;
  }
  return std::nullopt;
}

std::optional<std::int64_t> available_host_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  std::int64_t kilobytes = 0;
  while (meminfo >> key >> kilobytes >> unit) {
    if (key == "MemAvailable:") return kilobytes * 1024;
  }
  return std::nullopt;
}

std::string memory_report(const std::exception& error, const c10::Device& device) {
  const auto asked = requested_bytes(error.what());
  std::string report = asked ? "asked for " + gigabytes(*asked) : std::string("an allocation failed");
  if (device.is_cuda()) {
    if (const auto free_bytes = free_device_memory(device)) {
      report += "; " + gigabytes(static_cast<double>(*free_bytes)) + " is free on " + device.str();
    }
  } else if (const auto available = available_host_memory()) {
    report += "; " + gigabytes(static_cast<double>(*available)) + " of host memory is available";
  }
  return report;
}

}  // namespace ft
