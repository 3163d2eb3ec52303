// The default compute threads: OMP_NUM_THREADS when set, else the physical cores this process may run on.
#include "training/cpu_threads.h"

#include "scoped_environment.h"

#include <catch2/catch.hpp>

#include <sched.h>

#include <algorithm>
#include <thread>

TEST_CASE("the default thread count follows OMP_NUM_THREADS, else the process's cores, shared between processes",
          "[threads]") {
  const int cores = ft::physical_core_count();
  CHECK(cores >= 1);
  CHECK(cores <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  {
    const ScopedEnvironment variable("OMP_NUM_THREADS", "3");
    CHECK(ft::default_thread_count() == 3);
    CHECK(ft::default_thread_count(4) == 3);  // per process, as OpenMP and torchrun mean it
  }
  {
    const ScopedEnvironment nested("OMP_NUM_THREADS", "5,2");  // OpenMP's threads per nesting level
    CHECK(ft::default_thread_count() == 5);
  }
  for (const char* ignored : {"", "0", "-2", "two", "4x"}) {
    INFO("OMP_NUM_THREADS=" << ignored);
    const ScopedEnvironment variable("OMP_NUM_THREADS", ignored);
    CHECK(ft::default_thread_count() == cores);
  }
  const ScopedEnvironment empty("OMP_NUM_THREADS", "");  // as good as unset
  CHECK(ft::default_thread_count(cores) == 1);
  CHECK(ft::default_thread_count(cores * 4) == 1);
}

TEST_CASE("a process confined to one CPU (taskset, a Slurm job's share) counts one core", "[threads]") {
  cpu_set_t before;
  REQUIRE(sched_getaffinity(0, sizeof before, &before) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &before)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
  const int confined = ft::physical_core_count();
  const ScopedEnvironment empty("OMP_NUM_THREADS", "");  // as good as unset
  const int threads = ft::default_thread_count();
  sched_setaffinity(0, sizeof before, &before);
  CHECK(confined == 1);
  CHECK(threads == 1);
}
