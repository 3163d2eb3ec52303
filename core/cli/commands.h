#pragma once
// The ftrun command line (`ftrun [run] EXPERIMENT`, `runs`, `sweep`, `plot`, ...: docs/cli.md). Returns the exit code.

namespace ft {

/// Exit codes, documented in docs/cli.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitRunFailed = 1,
  kExitUsage = 2,  // bad command line or experiment file
  kExitPlugin = 3,
  kExitData = 4,
  kExitStore = 5,
  kExitResource = 6,       // out of host or device memory
  kExitInterrupted = 130,  // 128 + SIGINT; SIGTERM gives 143
};

int run_cli(int argc, char** argv);

}  // namespace ft
