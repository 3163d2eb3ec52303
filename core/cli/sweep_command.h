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
  /// "I/N": only the trials whose number is I modulo N (a Slurm array task), into this task's own store.
  std::string shard;
  bool verbose = false;
};

int command_sweep(const SweepOptions& options);

/// `ftrun merge OUT.db IN.db...`: copies the runs, sweeps and trials of each input store into OUT.
int command_merge(const std::string& output, const std::vector<std::string>& inputs);

/// The trials of sweep `sweep_id` (default: the newest) by state, the best so far, an estimate of the time left,
/// and one line per trial.
int command_sweep_status(std::optional<std::int64_t> sweep_id, const std::string& store_path);

}  // namespace ft
