// Reading a launcher's environment (torchrun, srun) into this process's place in a data-parallel run.
#include "training/launch_environment.h"

#include <ftsdk/error.h>

#include <catch2/catch.hpp>

#include <map>
#include <string>

namespace {

std::optional<ft::LaunchEnvironment> read(const std::map<std::string, std::string>& variables) {
  return ft::read_launch_environment([&](const char* name) -> const char* {
    auto it = variables.find(name);
    return it == variables.end() ? nullptr : it->second.c_str();
  });
}

}  // namespace

TEST_CASE("no launcher, or an srun step of one task, is a single process", "[launch]") {
  CHECK_FALSE(read({}));
  CHECK_FALSE(read({{"SLURM_STEP_NUM_TASKS", "1"}, {"SLURM_PROCID", "0"}}));
  // torchrun with one process makes a group of one: the same path as N (NCCL on a single GPU).
  const auto one = read({{"WORLD_SIZE", "1"}, {"RANK", "0"}});
  REQUIRE(one);
  CHECK(one->world_size == 1);
  // A shell inside an allocation is one process, whatever the allocation's size.
  CHECK_FALSE(read({{"SLURM_NTASKS", "16"}, {"SLURM_PROCID", "0"}}));
}

TEST_CASE("torchrun's variables place the process", "[launch]") {
  const auto launch = read({{"RANK", "5"},
                            {"WORLD_SIZE", "8"},
                            {"LOCAL_RANK", "1"},
                            {"LOCAL_WORLD_SIZE", "4"},
                            {"MASTER_ADDR", "node7"},
                            {"MASTER_PORT", "29400"},
                            {"TORCHELASTIC_RESTART_COUNT", "2"},
                            {"TORCHELASTIC_RUN_ID", "job42"},
                            {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
  REQUIRE(launch);
  CHECK(launch->launcher == "torchrun");
  CHECK(launch->rank == 5);
  CHECK(launch->world_size == 8);
  CHECK(launch->local_rank == 1);
  CHECK(launch->local_world_size == 4);
  CHECK(launch->master_addr == "node7");
  CHECK(launch->master_port == 29400);
  CHECK(launch->restart_count == 2);
  CHECK(launch->launch_id == "job42");
  CHECK(launch->agent_store);
}

TEST_CASE("srun's variables place the process, rank 0's node being the first of the step", "[launch]") {
  const auto launch = read({{"SLURM_PROCID", "9"},
                            {"SLURM_STEP_NUM_TASKS", "16"},
                            {"SLURM_LOCALID", "1"},
                            {"SLURM_NTASKS_PER_NODE", "8"},
                            {"SLURM_STEP_NODELIST", "gpu[017-018]"},
                            {"SLURM_JOB_ID", "123456"},
                            {"SLURM_STEP_ID", "0"}});
  REQUIRE(launch);
  CHECK(launch->launcher == "slurm");
  CHECK(launch->rank == 9);
  CHECK(launch->world_size == 16);
  CHECK(launch->local_rank == 1);
  CHECK(launch->master_addr == "gpu017");
  CHECK(launch->master_port == 20000 + 123456 % 20000);
  CHECK(launch->launch_id == "123456.0");
  // MASTER_ADDR and MASTER_PORT, when set, win.
  const auto set = read({{"SLURM_PROCID", "0"},
                         {"SLURM_STEP_NUM_TASKS", "2"},
                         {"SLURM_STEP_NODELIST", "a,b"},
                         {"MASTER_ADDR", "10.0.0.1"},
                         {"MASTER_PORT", "1234"}});
  REQUIRE(set);
  CHECK(set->master_addr == "10.0.0.1");
  CHECK(set->master_port == 1234);
}

TEST_CASE("inconsistent launcher variables are refused, naming them", "[launch]") {
  CHECK_THROWS_WITH(read({{"RANK", "2"}, {"WORLD_SIZE", "2"}}),
                    Catch::Contains("rank 2 is not below the world size 2"));
  CHECK_THROWS_WITH(read({{"RANK", "0"}, {"WORLD_SIZE", "two"}}), Catch::Contains("WORLD_SIZE=two"));
  CHECK_THROWS_WITH(read({{"RANK", "0"}}), Catch::Contains("WORLD_SIZE"));
}
