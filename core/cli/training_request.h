#pragma once
// What the ftrun front end hands its training library, libftrun_training.so, for the commands that need LibTorch
// (run, resume, plugins). The front end itself never loads LibTorch, so `ftrun runs` and the other questions to
// the store answer at once instead of after loading LibTorch's libraries (a third of a second on the CI
// machine, docs/performance.md). Both sides are built together, so the struct may hold C++ types.

#include <cstdint>
#include <string>
#include <vector>

namespace ft {

struct TrainingRequest {
  enum class Command { run, resume, plugins, sweep_worker, check_sweep, lr_find, input_speed };
  Command command = Command::run;
  // run, check_sweep
  std::string experiment;
  std::vector<std::string> overrides;
  bool dry_run = false;
  // resume
  std::int64_t run_id = 0;
  // plugins
  std::vector<std::string> plugin_files;
  // sweep_worker: the sweep to take trials from, and the CPU threads of each trial's runs (0: the experiment's)
  std::int64_t sweep_id = 0;
  std::int64_t threads = 0;
  // input_speed: passes over the training split
  std::int64_t epochs = 2;
  // lr_find, input_speed: the run (stage) to use; lr_find: the range of the head's rate, the steps, when to stop, the
  // smoothing
  std::string stage;
  double lr_start = 1e-7, lr_end = 10;
  std::int64_t lr_steps = 100;
  double stop_factor = 4, smoothing = 0.98;
  // check_sweep: where to say which way the first run's primary metric improves ("min" or "max"), for a sweep whose
  // objective is val_primary or train_primary and whose direction is not written
  std::string* primary_direction = nullptr;
  // all
  std::string store;
  bool verbose = false;
};

/// The library's one entry point: `extern "C" int ftrun_training_command(const TrainingRequest&)`, returning the
/// exit code.
inline constexpr const char* kTrainingEntryName = "ftrun_training_command";
using TrainingEntry = int(const TrainingRequest&);

/// Runs a request in the training library, loaded on first use (the front end's cli/commands.cpp); returns the
/// exit code.
int run_training(const TrainingRequest& request);

/// The library's file name; it lies beside `ftrun` in the build tree and in lib/ftrun/ once installed.
inline constexpr const char* kTrainingLibraryName = "libftrun_training.so";

}  // namespace ft
