#pragma once
// `ftrun sweep FILE`: records a sweep's trials in the store and runs them with N worker processes; `ftrun sweep
// status`: where a sweep stands (docs/sweeps.md).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ft {

struct SweepOptions {
  std::string experiment;
  std::vector<std::string> overrides;
  std::string store;
  bool dry_run = false;
  int workers = 1;
  /// GPUs to give the workers one each, round robin (CUDA_VISIBLE_DEVICES), e.g. "0,1,2,3".
  std::string gpus;
  bool verbose = false;
};

int command_sweep(const SweepOptions& options);

/// The trials of sweep `sweep_id` (default: the newest) by state, the best so far, an estimate of the time left,
/// and one line per trial.
int command_sweep_status(std::optional<std::int64_t> sweep_id, const std::string& store_path);

}  // namespace ft
