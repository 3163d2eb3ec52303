#pragma once
// Trains a built run: as the recorded run, closed in the store however it ends, or as a data-parallel follower that
// records nothing.

#include "config/experiment.h"
#include "model/training_state.h"
#include "runner/run_builder.h"
#include "runner/runner.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ft {

class ProcessGroup;
class ResultsStore;

/// Trains run `run_id`, already recorded in `store`, and closes it as completed, pruned, interrupted, diverged or
/// failed (rows the store could not take are written with the closing). Returns why it was pruned, or nothing;
/// every other end but completion is rethrown after the run is closed.
std::optional<std::string> train_recorded_run(ResultsStore& store, std::int64_t run_id, const RunConfig& run,
                                              BuiltRun& built, c10::Device device, std::optional<TrainingState> resume,
                                              const RunHooks& hooks = {}, ProcessGroup* group = nullptr);

/// A data-parallel follower trains the leader's run in step with it and records nothing: the leader closes the run,
/// whatever ends it.
void train_as_follower(const RunConfig& run, BuiltRun& built, c10::Device device, std::optional<TrainingState> resume,
                       ProcessGroup& group);

}  // namespace ft
