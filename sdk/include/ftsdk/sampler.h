#pragma once
/// @file
/// Sampler plugins: propose the values of a sweep's next trial from its parameter space and the trials so far.
/// ftrun's own `grid`, `random` and `tpe` are samplers too (docs/sweeps.md). A sampler needs no LibTorch.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ft {

/// One swept parameter, as its `[sweep.params]` entry defines it.
struct SearchDimension {
  enum class Kind { list, uniform, log_uniform, integer };
  std::string key;  // dotted, e.g. "optimizer.lr"
  Kind kind = Kind::list;
  /// uniform, log_uniform, integer: the range, both ends included (log_uniform: low > 0).
  double low = 0, high = 0;
  /// list (and `choice`): the values, each as TOML text; a trial's value is an index into them.
  std::vector<std::string> values;
};

/// A trial of the sweep so far.
struct TrialSoFar {
  enum class State { waiting, running, completed, pruned, failed };
  std::int64_t number = 0;
  State state = State::waiting;
  /// One per dimension: the number for uniform, log_uniform and integer; the index into `values` for a list.
  std::vector<double> values;
  /// Completed and pruned trials: the objective (the sweep's metric at its best epoch).
  std::optional<double> objective;
  /// The last epoch its run evaluated, and the metric there (a pruned trial stopped after it).
  std::int64_t last_epoch = 0;
  std::optional<double> last_value;
};

/// What a sampler factory is given besides its parameters (the `[sweep.sampler]` table).
struct SamplerContext {
  std::vector<SearchDimension> space;
  /// The objective is minimised (a loss) or maximised (an accuracy).
  bool minimize = true;
  /// `[sweep] trials`: how many trials the sweep runs (0 for a grid, which runs every point).
  std::int64_t trials = 0;
  /// `[sweep] seed`.
  std::uint64_t seed = 0;
};

/// A proposal: one value per dimension, as in TrialSoFar, and who made it ("tpe"; "random" for a draw
/// before TPE has enough trials), recorded with the trial and shown by `ftrun sweep status`.
struct TrialProposal {
  std::vector<double> values;
  std::string proposed_by;
};

/// Made by a factory registered with `Registry::add_sampler` and chosen by `[sweep] method = "NAME"`. ftrun asks
/// it for each trial when a worker needs one, under the store's write lock, with every trial so far: running ones
/// too, so that several workers do not pile onto one point. (grid and random, whose values do not depend on
/// results, are asked for every trial when the sweep is created; that is what lets a sweep of theirs be sharded.)
class Sampler {
 public:
  virtual ~Sampler() = default;
  /// The values of trial `number`, or nothing when the sweep has no more trials. `trial_seed` comes from the
  /// sweep's seed and `number` only: draw from it, and a sweep resumed after a crash proposes what an
  /// uninterrupted one would have. Throw `ft::ConfigError` for a space the sampler cannot search.
  virtual std::optional<TrialProposal> propose(std::int64_t number, const std::vector<TrialSoFar>& trials,
                                               std::uint64_t trial_seed) = 0;
};

}  // namespace ft
