#pragma once
// The answers `ftrun compare` and `ftrun overfit` give, computed from what the store returns. Plain C++ (no
// SQLite, no LibTorch), so the rules are unit-tested on their own.

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace ft {

/// The per-epoch metrics a run can be judged by (train.monitor, a sweep's objective): columns of the
/// epoch_metrics table, so their names may be written into SQL once checked against this list.
inline const std::vector<std::string>& objective_metrics() {
  // val_primary and train_primary: each run's own primary metric (accuracy, perplexity, ...).
  static const std::vector<std::string> names = {"val_loss",       "val_accuracy", "train_loss",
                                                 "train_accuracy", "val_primary",  "train_primary"};
  return names;
}

/// One epoch of a run, as the epoch_metrics view has it (absent values are NaN).
struct EpochRow {
  std::int64_t epoch = 0;
  double train_loss = 0, train_accuracy = 0, val_loss = 0, val_accuracy = 0, lr = 0;
  /// The run's primary metric (runs.primary_metric: accuracy, perplexity, ...).
  double train_primary = 0, val_primary = 0;
};

/// A row of the validation_rises view: consecutive evaluations whose validation loss stayed above its minimum.
struct ValidationRise {
  std::int64_t first_epoch = 0, last_epoch = 0, evaluations = 0;
  double best_val_loss = 0, worst_val_loss = 0, train_loss_before = 0, lowest_train_loss = 0;
  /// Validation loss reached a new minimum after the rise; false when training ended inside it.
  bool recovered = false;
};

/// One run as `ftrun compare` sees it: the compared value and how the run ended.
struct RunOutcome {
  std::int64_t id = 0;
  std::string stage, status, value;
  /// The run's primary metric (accuracy, perplexity), at its best by its direction and at the last evaluation.
  std::optional<double> best_val_primary, final_val_primary;
  std::string primary_metric = "accuracy";
  bool higher_is_better = true;
};

/// Runs sharing one value of the compared key, within one stage.
struct ValueGroup {
  std::string value;
  std::int64_t completed = 0, failed = 0, diverged = 0, pruned = 0, other = 0;  // other: running, interrupted
  /// Over completed runs (several seeds): mean and sample standard deviation (NaN below two runs).
  double mean_best = 0, std_best = 0, mean_final = 0, std_final = 0;
  /// The best mean best validation value of its stage (highest accuracy, lowest perplexity).
  bool best = false;
};

struct StageComparison {
  std::string stage;
  /// The primary metric its runs are compared by; "primary" when they have different ones (other tasks).
  std::string metric = "accuracy";
  bool higher_is_better = true;
  /// Numeric values in numeric order, then text values in text order.
  std::vector<ValueGroup> values;
};

/// Groups `runs` by stage (never mixing stages), then by value; marks each stage's best value.
std::vector<StageComparison> compare_by_stage(const std::vector<RunOutcome>& runs);

/// What a run's epochs say of its best epoch: worked out here from the rows (`epoch_facts`), or kept in the store
/// at write time for every run (`ResultsStore::epoch_facts_of_runs`, run_results; the same rule in SQL).
struct EpochFacts {
  /// Best epoch by the monitored metric (`train.monitor`, `train.monitor_mode`); nothing without evaluations.
  std::optional<std::int64_t> best_epoch;
  std::int64_t last_epoch = 0;
  /// Validation minus training loss at the best and at the last evaluated epoch (NaN when unknown).
  double gap_at_best = std::numeric_limits<double>::quiet_NaN(), gap_at_last = std::numeric_limits<double>::quiet_NaN();
};

/// What `ftrun overfit` says of one run.
struct OverfitReport : EpochFacts {
  /// The metric that picks the best epoch (the run's `train.monitor`).
  std::string monitor;
  /// First evaluation of a rise in validation loss above its minimum that lasted at least `patience`
  /// evaluations, never recovered, and during which training loss fell below its value before the rise.
  std::optional<std::int64_t> onset_epoch;
  /// Rises of at least `patience` evaluations after which validation loss came back down.
  std::int64_t recovered_rises = 0;
};

/// The rule behind `onset_epoch`, in words, printed with the report.
std::string overfitting_rule(int patience);

/// The facts of a run's `epochs` when `monitor` (with `monitor_mode`: min, max, or auto: max for an accuracy)
/// picks the best.
EpochFacts epoch_facts(const std::vector<EpochRow>& epochs, const std::string& monitor,
                       const std::string& monitor_mode);

OverfitReport overfit_report(const EpochFacts& facts, const std::vector<ValidationRise>& rises,
                             const std::string& monitor, int patience);

}  // namespace ft
