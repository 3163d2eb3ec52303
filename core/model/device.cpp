#include "model/device.h"

#include <ftsdk/error.h>

#include <ATen/Parallel.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#include <torch/cuda.h>

namespace ft {

std::optional<std::int64_t> free_device_memory(const c10::Device& device) {
  if (!device.is_cuda()) return std::nullopt;
  const c10::cuda::CUDAGuard guard(device);
  std::size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the error, so a later CUDA call does not report it as its own
    return std::nullopt;
  }
  return static_cast<std::int64_t>(free_bytes);
}

c10::Device resolve_device(const std::string& requested) {
  const bool has_cuda = torch::cuda::is_available();
  if (requested == "auto") return has_cuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (requested == "cpu") return c10::Device(c10::kCPU);
  const c10::Device device(requested);
  if (!has_cuda) {
    throw ConfigError("device \"" + requested +
                      "\" was asked for, but no CUDA GPU is visible to LibTorch (check nvidia-smi and "
                      "CUDA_VISIBLE_DEVICES); use device = \"auto\" or \"cpu\" to train on the CPU");
  }
  if (device.index() >= static_cast<int>(torch::cuda::device_count())) {
    throw ConfigError("device \"" + requested + "\": only " + std::to_string(torch::cuda::device_count()) +
                      " CUDA device(s) are visible");
  }
  return device;
}

int configure_threads(std::int64_t requested) {
  const int threads = requested > 0 ? static_cast<int>(requested) : default_thread_count();
  at::set_num_threads(threads);
  return threads;
}

}  // namespace ft
