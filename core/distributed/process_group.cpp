#include "distributed/process_group.h"

#include "distributed/nccl_backend.h"
#include "training/signals.h"

#include <ftsdk/error.h>

#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

namespace ft {
namespace {

// Gloo binds to GLOO_SOCKET_IFNAME when set (as PyTorch does), to the loopback address when every rank is on
// this machine's loopback, else to the address this machine's hostname resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const LaunchEnvironment& launch) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (launch.master_addr.rfind("127.", 0) == 0 || launch.master_addr == "localhost") {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// A collective's failure as LostProcess, its message without LibTorch's C++ backtrace. Gloo reports a peer that
// vanished as its own exception ("Connection reset by peer"), NCCL and c10d as c10::Error.
LostProcess lost_process(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  return LostProcess(std::string("lost another process of this data-parallel run: ") +
                     (torch_error ? torch_error->what_without_backtrace() : e.what()));
}

// How long a wait goes on after a stop signal. Healthy peers answer well within it, and the run then stops where
// every process stops together (the loop's next read-back); a peer that does not has stalled, and this process
// leaves without it, well within the grace torchrun and Slurm give between SIGTERM and SIGKILL (30 s).
constexpr auto kStopGrace = std::chrono::seconds(5);

// Throws Interrupted once a stop signal is kStopGrace old (`since` keeps when this wait first saw it).
void throw_if_stopped(const std::string& waiting_for, std::optional<std::chrono::steady_clock::time_point>& since) {
  if (!stop_requested()) return;
  const auto now = std::chrono::steady_clock::now();
  if (!since) since = now;
  if (now - *since < kStopGrace) return;
  throw Interrupted("stopped by " + stop_signal_name() + " while waiting for the other processes (" + waiting_for +
                    "), which did not answer within " + std::to_string(kStopGrace.count()) + " s of it");
}

}  // namespace

c10::Device distributed_device(const std::string& requested, int local_rank) {
  const bool cuda = requested.rfind("cuda", 0) == 0 || (requested == "auto" && torch::cuda::is_available());
  if (!cuda) return c10::Device(c10::kCPU);
  if (!torch::cuda::is_available()) {
    throw ConfigError("device \"" + requested + "\" was asked for, but no CUDA GPU is visible to this process");
  }
  if (local_rank >= static_cast<int>(torch::cuda::device_count())) {
    throw ConfigError("local rank " + std::to_string(local_rank) + " needs cuda:" + std::to_string(local_rank) +
                      ", but only " + std::to_string(torch::cuda::device_count()) +
                      " GPU(s) are visible: start at most that many processes per node");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
}

ProcessGroup::ProcessGroup(const LaunchEnvironment& launch, std::chrono::milliseconds timeout) : launch_(launch) {
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(launch.master_port);
    options.isServer = launch.rank == 0 && !launch.agent_store;
    options.numWorkers = static_cast<std::size_t>(launch.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    // Rank 0 serves the store, as init_process_group("env://") does, unless torchrun's agent already serves one
    // there. The agent's store outlives a restart, so each attempt works under its own prefix (as PyTorch's
    // env:// rendezvous does): keys of a failed attempt, such as Gloo's addresses of dead processes, stay apart.
    c10::intrusive_ptr<c10d::Store> tcp = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
    store_ = tcp;
    if (launch.agent_store) {
      store_ = c10::make_intrusive<c10d::PrefixStore>("/ftrun/attempt_" + std::to_string(launch.restart_count), tcp);
    }
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(launch.rank) + " of " + std::to_string(launch.world_size) +
                " could not meet the others at " + launch.master_addr + ":" + std::to_string(launch.master_port) +
                ": " + e.what());
  }
}

void ProcessGroup::connect(c10::Device device, const std::string& backend, std::chrono::milliseconds timeout) {
  device_ = device;
  backend_name_ = backend == "auto" ? (device.is_cuda() ? "nccl" : "gloo") : backend;
  if (backend_name_ == "nccl" && !device.is_cuda()) {
    throw ConfigError("distributed.backend = \"nccl\" needs CUDA devices; this run trains on the CPU (use \"gloo\")");
  }
  try {
    if (backend_name_ == "nccl") {
      backend_ = make_nccl_backend(store_, launch_.rank, launch_.world_size, timeout);
    } else {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices.push_back(gloo_device(launch_));
      backend_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, launch_.rank, launch_.world_size, options);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(launch_.rank) + " could not start " + backend_name_ + ": " + e.what());
  }
}

ProcessGroup::~ProcessGroup() {
  // A collective left waiting for a stalled peer keeps one of Gloo's threads blocked until its timeout, and
  // destroying the backend joins that thread: the backend is left to the process's exit instead.
  if (abandoned_) (void)backend_.release();
}

bool ProcessGroup::connected() const { return backend_.defined(); }

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  for (const auto& tensor : tensors) {
    // Collectives need dense contiguous tensors; a channels-last weight goes through a contiguous copy.
    std::vector<at::Tensor> one{tensor.is_contiguous() ? tensor : tensor.contiguous()};
    wait(backend_->broadcast(one));
    if (!one[0].is_same(tensor)) tensor.copy_(one[0]);
  }
}

void ProcessGroup::sum(torch::Tensor& tensor) { wait(sum_async(tensor)); }

void ProcessGroup::wait(const c10::intrusive_ptr<c10d::Work>& work) {
  try {
    // Gloo's wait blocks the host until every peer answers, up to distributed.timeout: a peer that stalls (stopped,
    // swapping, stuck in I/O) would keep this process from noticing a SIGTERM for that long. So the host polls,
    // and stops between polls when a signal asked it to. NCCL's wait only orders streams and returns at once.
    if (backend_name_ != "nccl") {
      std::optional<std::chrono::steady_clock::time_point> stop_seen;
      for (std::int64_t polls = 0; !work->isCompleted(); ++polls) {
        throw_if_stopped("a collective", stop_seen);
        std::this_thread::sleep_for(std::chrono::microseconds(polls < 100 ? 20 : 500));
      }
    }
    work->wait();
  } catch (const Interrupted&) {
    abandoned_ = true;
    throw;
  } catch (const std::exception& e) {
    throw lost_process(e);
  }
}

c10::intrusive_ptr<c10d::Work> ProcessGroup::sum_async(torch::Tensor& tensor) {
  std::vector<at::Tensor> one{tensor};
  try {
    return backend_->allreduce(one);
  } catch (const std::exception& e) {
    throw lost_process(e);
  }
}

std::string ProcessGroup::share_text(const std::string& key, const std::string& value) {
  // Keys are numbered so the same name can be shared again (one stage after another).
  const std::string name = "ftrun/" + key + "/" + std::to_string(shared_texts_++);
  try {
    if (leader()) {
      store_->set(name, std::vector<std::uint8_t>(value.begin(), value.end()));
      return value;
    }
    // The store's get blocks up to its timeout; waiting in short slices lets a stop signal through meanwhile.
    const auto deadline = std::chrono::steady_clock::now() + store_->getTimeout();
    std::optional<std::chrono::steady_clock::time_point> stop_seen;
    while (!store_->check({name})) {
      throw_if_stopped("rank 0's '" + key + "'", stop_seen);
      if (std::chrono::steady_clock::now() > deadline) {
        throw LostProcess("rank 0 did not share '" + key + "' within distributed.timeout");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto bytes = store_->get(name);
    return std::string(bytes.begin(), bytes.end());
  } catch (const Interrupted&) {
    throw;
  } catch (const LostProcess&) {
    throw;
  } catch (const std::exception& e) {
    throw LostProcess(std::string("lost rank 0 of this data-parallel run while waiting for '") + key +
                      "': " + e.what());
  }
}

}  // namespace ft
