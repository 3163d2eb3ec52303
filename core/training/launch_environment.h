#pragma once
// Where this process stands in a data-parallel launch, read from the launcher's environment: torchrun's variables
// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RESTART_COUNT), else
// Slurm's for a task started by srun (SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID, ...). Without either, or
// in an srun step of one task, ftrun runs as the single process it always was; `torchrun --nproc-per-node 1`
// makes a group of one (the same code path as N). No LibTorch here, so it is tested fast.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace ft {

struct LaunchEnvironment {
  std::string launcher;  // "torchrun" or "slurm"
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr;
  int master_port = 0;
  /// How many times torchrun restarted the group (0 on the first start).
  int restart_count = 0;
  /// torchrun's agent serves the rendezvous store at MASTER_ADDR:MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE): every
  /// process connects to it as a client, under a prefix of its own per restart.
  bool agent_store = false;
  /// Names this launch across restarts: torchrun's TORCHELASTIC_RUN_ID, or Slurm's job and step ids.
  std::string launch_id;
};

/// The launch described by `getenv` (a stand-in for std::getenv in tests), or nothing for a single process.
/// Throws ConfigError when the variables are there but inconsistent, naming them.
std::optional<LaunchEnvironment> read_launch_environment(const std::function<const char*(const char*)>& getenv);

/// Same, from this process's environment.
std::optional<LaunchEnvironment> launch_environment();

}  // namespace ft
