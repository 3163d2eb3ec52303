#include "training/cpu_threads.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>

namespace ft {

namespace {

// The first line of a small sysfs file, or "" when it cannot be read.
std::string first_line(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

}  // namespace

int physical_core_count() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  // A core is its package and its id within it; CPUs whose topology cannot be read count as cores of their own.
  std::set<std::pair<std::string, std::string>> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    const std::string topology = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    const std::string package = first_line(topology + "physical_package_id"), core = first_line(topology + "core_id");
    cores.emplace(package, core.empty() ? "cpu" + std::to_string(cpu) : core);
  }
  return std::max(1, static_cast<int>(cores.size()));
}

int default_thread_count(int local_processes) {
  if (const char* variable = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long threads = std::strtol(variable, &end, 10);
    // A list ("8,2") gives each nesting level's threads, as OpenMP reads it: the first is this level's.
    const bool whole = end != variable && (*end == '\0' || *end == ',');
    if (whole && threads > 0) return static_cast<int>(std::min(threads, 4096L));
  }
  return std::max(1, physical_core_count() / std::max(1, local_processes));
}

}  // namespace ft
