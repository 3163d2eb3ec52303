#include "runner/run_training.h"

#include "config/config_tree.h"
#include "distributed/process_group.h"
#include "log/log.h"
#include "model/memory.h"
#include "runner/store_outage.h"
#include "runner/trainer.h"
#include "store/results_store.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>

namespace fs = std::filesystem;

namespace ft {
namespace {

TrainerSetup trainer_setup(const RunConfig& run, BuiltRun& built, c10::Device device,
                           std::optional<TrainingState> resume, ProcessGroup* group) {
  TrainerSetup setup;
  setup.model = built.model.get();
  setup.task = built.task.get();
  setup.task_keeps_tables = built.task_keeps_tables;
  setup.optimizer = built.optimizer.get();
  setup.group_names = built.group_names;
  setup.regularizations = built.regularizations;
  setup.info = built.info;
  setup.train = built.dataset->train();
  setup.validation = built.dataset->validation();
  setup.test = built.dataset->test();
  setup.config = run.train;
  setup.augment = run.augment;
  setup.schedule = run.schedule;
  setup.device = device;
  setup.precision = run.precision;
  setup.channels_last = run.channels_last;
  setup.seed = run.seed;
  setup.resume = std::move(resume);
  setup.group = group;
  // The dataset's examples follow from its plugin, parameters and seed (the split it draws, the classes it keeps).
  setup.data_identity = fmt::format("dataset {}|seed {}", run.dataset.type, run.seed);
  for (const auto& key : run.dataset.params.keys()) {
    setup.data_identity += fmt::format("|{}={}", key, to_toml_value(*run.dataset.params.find(key)));
  }
  return setup;
}

// What ran out of memory while training, with the batch size that did: the first thing a user changes.
std::string out_of_memory_message(const RunConfig& run, const c10::Device& device, const std::exception& error) {
  return fmt::format(
      "out of memory on {} while training with batch_size = {} (eval_batch_size = {}): {}; lower "
      "batch_size (train.accumulate keeps the effective batch), use precision = \"bf16\", or "
      "freeze more of the backbone",
      device.str(), run.train.batch_size, run.train.eval_batch_size, memory_report(error, device));
}

}  // namespace

// Trains a run already recorded in the store, and closes it as completed, pruned, interrupted, diverged or
// failed. Returns why it was pruned, or nothing.
std::optional<std::string> train_recorded_run(ResultsStore& store, std::int64_t run_id, const RunConfig& run,
                                              BuiltRun& built, c10::Device device, std::optional<TrainingState> resume,
                                              const RunHooks& hooks, ProcessGroup* group) {
  TrainerSetup setup = trainer_setup(run, built, device, std::move(resume), group);
  setup.checkpoint_dir = (fs::path(store.checkpoint_dir()) / fmt::format("run-{}", run_id)).string();
  setup.feature_cache_dir = (fs::path(store.checkpoint_dir()) / "feature-cache").string();
  // Rows a failed store write could not record are kept and written with the run's closing, so a store that
  // was locked or full for a while loses nothing it can still take.
  std::vector<MetricRow> unsaved;
  StoreOutage outage(store.options().outage_limit, run_id);
  setup.record = [&](const std::vector<MetricRow>& rows) {
    unsaved.insert(unsaved.end(), rows.begin(), rows.end());
    if (!outage.time_to_try()) return;
    outage.attempt(
        [&] {
          store.log_metrics(run_id, unsaved);
          unsaved.clear();
          if (outage.pending_checkpoint) store.set_checkpoint(run_id, *outage.pending_checkpoint);
          outage.pending_checkpoint.reset();
        },
        unsaved.size());
  };
  setup.on_checkpoint = [&](const std::string& path) {
    outage.pending_checkpoint = path;
    if (!outage.time_to_try()) return;
    outage.attempt(
        [&] {
          store.set_checkpoint(run_id, path);
          outage.pending_checkpoint.reset();
        },
        unsaved.size());
  };
  if (hooks.prune) setup.prune = [&](std::int64_t epoch) { return hooks.prune(run_id, run, epoch); };
  setup.after_step = hooks.after_step;
  // A checkpoint saved while the server was away is recorded before the closing; when even that fails, the closing
  // (kept in its journal by finish_run) matters more, and the checkpoint's file is still where it was written.
  auto record_pending_checkpoint = [&] {
    if (!outage.pending_checkpoint) return;
    try {
      store.set_checkpoint(run_id, *outage.pending_checkpoint);
    } catch (const StoreError& error) {
      log::warn(fmt::format("run {}: its last checkpoint {} could not be recorded: {}", run_id,
                            *outage.pending_checkpoint, error.what()));
    }
  };
  // Closing the run is itself a store write; when even that fails, the error says both what stopped the run
  // and why it could not be recorded (the run stays "running" until a later ftrun finds its process gone).
  auto close = [&](RunStatus status, const std::string& error) {
    try {
      record_pending_checkpoint();
      store.finish_run(run_id, status, error, unsaved);
    } catch (const RunNotHeld&) {
      throw;  // closed already, by whoever took it
    } catch (const StoreError& store_error) {
      throw StoreError(fmt::format("{}\nrun {} could not be recorded as {}: {}", error, run_id, to_string(status),
                                   store_error.what()));
    }
  };
  // Out of memory: the run is closed with what was asked for and the batch size that failed.
  auto closed_out_of_memory = [&](const std::exception& e) {
    const std::string message = out_of_memory_message(run, device, e);
    close(RunStatus::failed, message);
    return ResourceError(fmt::format("run {} failed: {}", run_id, message));
  };
  try {
    Trainer(std::move(setup)).fit();
  } catch (const Pruned& e) {
    close(RunStatus::pruned, e.what());
    log::info(fmt::format("run {} pruned", run_id));
    return std::string(e.what());
  } catch (const Interrupted& e) {
    close(RunStatus::interrupted, e.what());
    log::warn(fmt::format("run {} interrupted: {} (continue it with: ftrun resume {})", run_id, e.what(), run_id));
    throw;
  } catch (const Diverged& e) {
    close(RunStatus::diverged, e.what());
    log::error(fmt::format("run {} diverged", run_id));
    throw;
  } catch (const RunNotHeld& e) {
    // Its trial was put back while this process was cut off, or another process resumed it: that one's rows stand.
    log::error(fmt::format("run {} stopped: {}", run_id, e.what()));
    throw;
  } catch (const StoreError& e) {
    // Said before closing, which waits for the store longer than any other write.
    log::error(fmt::format("run {} stopped: {}; closing it as failed", run_id, e.what()));
    close(RunStatus::failed, e.what());
    throw;
  } catch (const LostProcess& e) {
    // Another process of the run died, was killed or stopped answering.
    close(RunStatus::failed, e.what());
    log::error(fmt::format("run {} failed: {}", run_id, e.what()));
    throw;
  } catch (const ResourceError& e) {
    close(RunStatus::failed, e.what());
    log::error(fmt::format("run {} failed", run_id));
    throw;
  } catch (const c10::Error& e) {
    if (is_allocation_failure(e)) throw closed_out_of_memory(e);
    // LibTorch's own message carries a C++ backtrace: the store keeps the message alone.
    const std::string message = e.what_without_backtrace();
    close(RunStatus::failed, message);
    log::error(fmt::format("run {} failed", run_id));
    throw Error("LibTorch: " + message);
  } catch (const std::exception& e) {
    if (is_allocation_failure(e)) throw closed_out_of_memory(e);
    close(RunStatus::failed, e.what());
    log::error(fmt::format("run {} failed", run_id));
    throw;
  } catch (...) {
    close(RunStatus::failed, "a plugin threw something that is not a std::exception");
    throw PluginError(fmt::format("run {} failed: a plugin threw something that is not a std::exception", run_id));
  }
  close(RunStatus::completed, "");
  log::info(fmt::format("run {} completed", run_id));
  return std::nullopt;
}

// A data-parallel follower trains the leader's run in step with it and records nothing: the leader closes the
// run, whatever ends it.
void train_as_follower(const RunConfig& run, BuiltRun& built, c10::Device device, std::optional<TrainingState> resume,
                       ProcessGroup& group) {
  try {
    Trainer(trainer_setup(run, built, device, std::move(resume), &group)).fit();
  } catch (const c10::Error& e) {
    if (is_allocation_failure(e)) throw ResourceError(out_of_memory_message(run, device, e));
    throw Error(std::string("LibTorch: ") + e.what_without_backtrace());
  }
}

}  // namespace ft
