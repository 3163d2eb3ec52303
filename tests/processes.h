#pragma once
// Test code run in several processes at once, as several ftrun processes sharing one store would run.

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <vector>

/// Runs `work(i)` for each i below `count`, each in a forked process, all at once, and checks that every process
/// exits 0. An exception fails its process and is printed with `what` and the process's number.
template <class Work>
void run_in_processes(int count, const char* what, Work&& work) {
  std::vector<pid_t> children;
  for (int i = 0; i < count; ++i) {
    const pid_t child = fork();
    if (child == 0) {
      try {
        work(i);
        _exit(0);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "%s %d: %s\n", what, i, e.what());
        _exit(1);
      }
    }
    children.push_back(child);
  }
  for (const pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}
