#pragma once
// A sweep: the [sweep] table of an experiment file, and the trials its sampler (ftsdk/sampler.h) proposes. A grid's
// and a random sweep's trials are all fixed when the sweep is defined (grid order, or draws from (sweep seed, trial
// number)); a TPE sweep's, or a sampler plugin's, are proposed one at a time as workers ask, from the trials so
// far, each from a generator seeded by (sweep seed, trial number). Either way a sweep started again after a crash
// runs exactly the trials it would have run, never a fresh draw (Optuna #3255).
//
//   [sweep]
//   method = "random"            # grid | random | tpe | a sampler plugin's name
//   trials = 20                  # all but grid
//   seed = 0
//   metric = "val_accuracy"      # the objective: val_loss, val_accuracy, train_loss, train_accuracy
//   direction = "max"            # min | max (default: min for losses, max for accuracies, the task's for *_primary)
//   max_retries = 1              # a trial whose worker died is run again this many times
//   [sweep.params]
//   "optimizer.lr" = { log_uniform = [1e-4, 1e-1] }
//   "backbone.lr_mult" = [0.1, 0.3, 1.0]
//   [sweep.pruner]               # optional
//   type = "asha"                # median (startup_trials, warmup_epochs) | asha (grace_period, reduction_factor)
//   [sweep.sampler]              # optional: the sampler's parameters (tpe: startup_trials, candidates)

#include "config/experiment.h"
#include "store/pruning.h"

#include <ftsdk/sampler.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ft {

struct SweepParam {
  enum class Kind { list, uniform, log_uniform, integer, choice };
  std::string key;  // dotted, as for --set
  SourceLocation where;
  Kind kind = Kind::list;
  std::vector<ParamValue> values;  // list, choice
  double low = 0, high = 0;        // uniform, log_uniform, integer (inclusive)
};

struct SweepConfig {
  std::string method;  // "grid", "random", "tpe" or a sampler plugin's name
  SourceLocation method_where;
  std::int64_t trials = 0;  // all methods but grid
  std::uint64_t seed = 0;
  std::string metric = "val_loss";
  std::string direction;  // "min" or "max"; empty: the direction of the task's primary metric (val_primary)
  std::int64_t max_retries = 1;
  std::vector<SweepParam> params;
  /// [sweep.pruner]: stop trials early that are not going to win (type = "median" or "asha").
  PrunerConfig pruner;
  /// [sweep.sampler]: the sampler's own parameters.
  Params sampler{"sweep.sampler"};
};

struct SweepTrial {
  std::int64_t number = 0;
  /// The values this trial sets, each positioned at its sweep parameter.
  std::vector<KeyValue> values;
  /// The trial's experiment.seed: from (sweep seed, trial number), unless the sweep varies experiment.seed.
  std::uint64_t seed = 0;
};

/// The sweep of an experiment file and its trials, each checked by reading the experiment with its values (a
/// typo in a key gets the sweep key's file:line:col and the nearest valid key).
struct SweepPlan {
  SweepConfig config;
  /// Every trial of a grid or random sweep; empty for a sampler that proposes trials as workers ask.
  std::vector<SweepTrial> trials;
  /// The trial the sweep is checked with before anything is recorded: the first, or a random draw.
  SweepTrial check_trial;
  std::string experiment_file;
  /// The file's text and the command line's overrides, as the sweep runs them: what the store keeps.
  std::string text;
  std::vector<std::string> overrides;
  /// Identifies the sweep: the same file and overrides are the same sweep (run again, it continues).
  std::string fingerprint;
};

/// Reads the [sweep] table and the trials of an experiment; a ConfigError when the file has no sweep.
SweepPlan load_sweep(const std::string& path, const std::vector<std::string>& overrides);

/// The same from text (the store keeps a sweep's text, so its workers need not read the file again).
SweepPlan parse_sweep(const std::string& text, const std::string& source_name,
                      const std::vector<std::string>& overrides);

/// The plan of one trial: the experiment with the trial's values and seed.
ExperimentPlan trial_plan(const SweepPlan& sweep, const SweepTrial& trial);

/// A trial's values as text, `key = value` per line, for the store and for people.
std::string trial_values_text(const SweepTrial& trial);

/// Whether the sweep's trials are proposed one at a time as workers ask (any method but grid and random).
bool proposes_as_it_goes(const SweepConfig& config);

/// The sweep's parameters as a sampler sees them (list values as TOML text).
SamplerContext sampler_context(const SweepConfig& config, bool minimize);

/// The sweep's sampler if it is built in (grid, random, tpe), else nullptr (a plugin's: the caller's catalog
/// makes it). Unknown keys in [sweep.sampler] are refused with their file:line:col.
std::shared_ptr<Sampler> make_builtin_sweep_sampler(const SweepConfig& config, bool minimize);

/// The generator seed of trial `number`'s proposal, and the trial's experiment.seed: both from (sweep seed,
/// number) alone.
std::uint64_t proposal_seed(const SweepConfig& config, std::int64_t number);
std::uint64_t trial_seed(const SweepConfig& config, std::int64_t number);

/// The trial a sampler's proposal makes (values in TrialSoFar's representation).
SweepTrial trial_from_proposal(const SweepConfig& config, std::int64_t number, const std::vector<double>& values);

/// A stored trial's `key = value` text back in TrialSoFar's representation: numbers, or a list value's index.
/// Throws ConfigError naming the key when a value is not one the sweep defines.
std::vector<double> proposal_values(const SweepConfig& config, const std::string& params_text);

}  // namespace ft
