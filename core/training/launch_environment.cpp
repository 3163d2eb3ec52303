#include "training/launch_environment.h"

#include <ftsdk/error.h>

#include <cstdlib>
#include <string>

namespace ft {
namespace {

class Variables {
 public:
  explicit Variables(const std::function<const char*(const char*)>& getenv) : getenv_(getenv) {}

  bool has(const char* name) const {
    const char* value = getenv_(name);
    return value && *value;
  }
  std::string text(const char* name, const std::string& fallback = "") const {
    return has(name) ? std::string(getenv_(name)) : fallback;
  }
  int number(const char* name, int minimum, std::optional<int> fallback = std::nullopt) const {
    if (!has(name)) {
      if (fallback) return *fallback;
      throw ConfigError(std::string("the launcher set no ") + name + "; it is needed to train on several processes");
    }
    const std::string value = getenv_(name);
    std::size_t used = 0;
    int parsed = 0;
    try {
      parsed = std::stoi(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != value.size() || parsed < minimum) {
      throw ConfigError(std::string(name) + "=" + value + " is not a whole number of at least " +
                        std::to_string(minimum));
    }
    return parsed;
  }

 private:
  const std::function<const char*(const char*)>& getenv_;
};

// The first host of a Slurm node list such as "gpu[001-004,007],cpu01" → "gpu001".
std::string first_slurm_host(const std::string& list) {
  const auto bracket = list.find('[');
  const auto comma = list.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) {
    return list.substr(0, comma);
  }
  const auto end = list.find_first_of("-,]", bracket + 1);
  return list.substr(0, bracket) + list.substr(bracket + 1, end - bracket - 1);
}

}  // namespace

std::optional<LaunchEnvironment> read_launch_environment(const std::function<const char*(const char*)>& getenv) {
  const Variables env(getenv);
  LaunchEnvironment launch;
  if (env.has("WORLD_SIZE") || env.has("RANK")) {
    // A torchrun group of one is still a group: the same code path as N processes (and NCCL on one GPU).
    launch.launcher = "torchrun";
    launch.world_size = env.number("WORLD_SIZE", 1);
    launch.rank = env.number("RANK", 0);
    launch.local_rank = env.number("LOCAL_RANK", 0, launch.rank);
    launch.local_world_size = env.number("LOCAL_WORLD_SIZE", 1, launch.world_size);
    launch.master_addr = env.text("MASTER_ADDR", "127.0.0.1");
    launch.master_port = env.number("MASTER_PORT", 1, 29500);
    launch.restart_count = env.number("TORCHELASTIC_RESTART_COUNT", 0, 0);
    launch.launch_id = env.text("TORCHELASTIC_RUN_ID");
    launch.agent_store = env.text("TORCHELASTIC_USE_AGENT_STORE") == "True";
  } else if (env.has("SLURM_STEP_NUM_TASKS") && env.has("SLURM_PROCID")) {
    // Only a task of an srun step has SLURM_STEP_NUM_TASKS: a shell of salloc or the batch script itself is one
    // process, whatever SLURM_NTASKS says.
    launch.launcher = "slurm";
    launch.world_size = env.number("SLURM_STEP_NUM_TASKS", 1);
    if (launch.world_size == 1) return std::nullopt;
    launch.rank = env.number("SLURM_PROCID", 0);
    launch.local_rank = env.number("SLURM_LOCALID", 0, 0);
    launch.local_world_size = env.number("SLURM_NTASKS_PER_NODE", 1, launch.world_size);
    launch.master_addr = env.text("MASTER_ADDR");
    if (launch.master_addr.empty()) launch.master_addr = first_slurm_host(env.text("SLURM_STEP_NODELIST"));
    if (launch.master_addr.empty()) {
      throw ConfigError("under srun, set MASTER_ADDR to the first node's address (SLURM_STEP_NODELIST is empty)");
    }
    // One port per job, so two jobs sharing a node do not meet on one port.
    const int job = env.number("SLURM_JOB_ID", 0, 0);
    launch.master_port = env.number("MASTER_PORT", 1, 20000 + job % 20000);
    launch.launch_id = env.text("SLURM_JOB_ID") + "." + env.text("SLURM_STEP_ID", "0");
  } else {
    return std::nullopt;
  }
  if (launch.rank >= launch.world_size) {
    throw ConfigError("rank " + std::to_string(launch.rank) + " is not below the world size " +
                      std::to_string(launch.world_size) + " (" + launch.launcher + "'s variables disagree)");
  }
  if (launch.local_rank >= launch.local_world_size) {
    throw ConfigError("local rank " + std::to_string(launch.local_rank) + " is not below the processes per node " +
                      std::to_string(launch.local_world_size));
  }
  return launch;
}

std::optional<LaunchEnvironment> launch_environment() {
  return read_launch_environment([](const char* name) { return std::getenv(name); });
}

}  // namespace ft
