#pragma once
// The results store: every run, its parameters, plugins and metrics, in an SQLite file or a PostgreSQL database.
// See docs/store.md for the schema.

#include "store/pruning.h"
#include "store/reports.h"
#include "store/run_query.h"

#include <ftsdk/params.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace SQLite {
class Database;
}  // namespace SQLite

namespace ft {

class SqlConnection;
class SqlQuery;

/// A store write that failed because the database server could not be reached (restarted, or cut off by the
/// network) through all of its retries. A training run holds its rows and keeps training meanwhile, up to
/// StoreOptions::outage_limit (runner/run_training.cpp).
class StoreUnreachable : public StoreError {
 public:
  using StoreError::StoreError;
};

/// A write for a run this process no longer holds: its sweep trial was put back while the process was silent (a
/// network cut, a frozen machine) and the run was closed for it, or another process resumed the run. The rows are
/// refused, not mixed into the run, and nothing is kept for later: the process is to stop the run.
class RunNotHeld : public StoreError {
 public:
  using StoreError::StoreError;
};

enum class RunStatus { running, completed, failed, interrupted, diverged, pruned };
const char* to_string(RunStatus status);

/// How the store waits for other processes.
struct StoreOptions {
  /// How long one write waits for another process's lock before it counts as failed (SQLite's busy timeout).
  std::chrono::milliseconds busy_timeout{60000};
  /// Attempts per write, each waiting up to `busy_timeout`, before the write is given up.
  int write_attempts = 3;
  /// Where runs' checkpoints go; empty: checkpoint_dir()'s default.
  std::string checkpoint_dir;
  /// How long a training run keeps training while its database server cannot be reached, holding the rows it
  /// could not write, before it stops and closes as failed.
  std::chrono::seconds outage_limit{600};
  /// How long a sweep worker on another host may send no heartbeat before its trial is put back for another worker
  /// (and its run closed). Its heartbeat comes every tenth of this.
  std::chrono::seconds trial_stale{300};
};

/// Options with the busy timeout from $FTRUN_STORE_TIMEOUT (seconds), the outage limit from $FTRUN_STORE_OUTAGE
/// (seconds), a silent worker's time from $FTRUN_TRIAL_STALE (seconds) and the checkpoint folder from
/// $FTRUN_CHECKPOINT_DIR, when set. Throws ConfigError when a number is not one.
StoreOptions store_options_from_environment();

struct PluginUse {
  std::string kind;       // backbone, dataset, ...
  std::string component;  // the type name used in the experiment
  std::string library;    // absolute path of the .so
  std::string plugin_name;
  std::string plugin_version;
};

struct NewRun {
  std::string name;
  std::string stage;
  std::string group_id;
  std::optional<std::int64_t> parent_run_id;
  std::string experiment_file;
  std::string config_toml;
  std::uint64_t seed = 0;
  std::string device;
  std::int64_t threads = 0;
  std::string torch_version;
  std::vector<std::pair<std::string, ParamValue>> params;
  std::vector<PluginUse> plugins;
  /// The keys of `params` the experiment did not write (defaults of ftrun or of a plugin).
  std::set<std::string> default_keys = {};
  /// The task plugin, and the metric that ranks the run with which way is better ("max" or "min").
  std::string task = "classification";
  std::string primary_metric = "accuracy";
  std::string primary_direction = "max";
};

struct MetricRow {
  std::string scope;  // "step", "epoch" or "final"
  std::int64_t epoch = 0;
  std::int64_t step = 0;
  std::string name;
  double value = 0;
};

struct RunSummary {
  std::int64_t id = 0;
  std::string name;
  std::string stage;
  std::string group_id;
  std::string status;
  std::string started_at;
  std::int64_t seed = 0;
  std::string key_params;  // "optimizer.lr=0.01 backbone.lr_mult=0.1"
  std::optional<double> best_val_accuracy;
  std::optional<double> best_val_loss;
  std::optional<double> test_accuracy;
  std::int64_t epochs = 0;
  /// The run's primary metric ("accuracy", "perplexity"), its best validation value (by its direction) and its
  /// test value.
  std::string primary_metric = "accuracy";
  std::string primary_direction = "max";
  std::optional<double> best_val_primary;
  std::optional<double> test_primary;
  /// The values of RunFilter::columns, in order: a number, a text, or nothing (monostate) where the run has none.
  std::vector<std::variant<std::monostate, double, std::string>> columns;
};

struct RunFilter {
  std::optional<std::int64_t> id;
  std::optional<std::string> name;
  std::optional<std::string> group_id;
  std::optional<std::string> status;
  /// Compiled --where and --order-by (run_query.h); newest first when no order is given.
  std::optional<SqlFragment> where, order_by;
  /// Extra columns chosen by the user (compile_columns), returned in RunSummary::columns.
  std::optional<ColumnList> columns;
  std::int64_t limit = 50;
  /// Runs skipped before the first one returned (pages of a long list).
  std::int64_t offset = 0;
};

/// The group every run of sweep `sweep_id` is recorded under (`ftrun runs --sweep ID` lists them).
inline std::string sweep_group(std::int64_t sweep_id) { return "sweep-" + std::to_string(sweep_id); }

/// A sweep as the store keeps it (config/sweep.h makes one from an experiment file).
struct NewSweep {
  std::string name, experiment_file, fingerprint, definition;
  std::vector<std::string> overrides;
  std::string method, metric, direction;
  std::int64_t max_retries = 1;
};

struct NewTrial {
  std::int64_t number = 0;
  std::string params;  // `key = value` lines
  std::uint64_t seed = 0;
  /// Which sampler proposed it ("grid", "random", "tpe", a plugin's name).
  std::string sampler;
};

struct StoredSweep {
  std::int64_t id = 0;
  std::string name, experiment_file, definition, method, metric, direction, created_at;
  std::vector<std::string> overrides;
  std::int64_t max_retries = 1;
};

struct TrialRow {
  std::int64_t number = 0;
  std::string params, state, error, host;
  std::uint64_t seed = 0;
  std::optional<std::int64_t> run_id;
  std::int64_t attempts = 0;
  /// The objective of the trial's run (the sweep's metric, best over its epochs), when it has one.
  std::optional<double> objective;
  /// The last epoch at which the run evaluated the sweep's metric, and its value there (where a pruned trial
  /// stopped); 0 and nothing before its first evaluation.
  std::int64_t last_epoch = 0;
  std::optional<double> last_value;
  /// Which sampler proposed it; empty for trials recorded before store schema 6.
  std::string sampler;
};

/// Proposes the next trial from every trial so far (running ones included), under the write lock of
/// ResultsStore::claim_trial; nothing when the sweep has no more trials.
using TrialProposer = std::function<std::optional<NewTrial>(const std::vector<TrialRow>&)>;

/// What `ResultsStore::merge_from` brought in.
struct MergeReport {
  std::int64_t runs = 0, runs_already_there = 0, sweeps = 0, trials = 0;
};

class ResultsStore {
 public:
  /// Opens (creating folders, file and schema as needed, upgrading an older schema) the store at `path`: an SQLite
  /// file, or a PostgreSQL database when `path` is a `postgresql://` URL (its schema created when it has none).
  /// Throws StoreError.
  explicit ResultsStore(const std::string& path, StoreOptions options = {});
  ~ResultsStore();
  ResultsStore(const ResultsStore&) = delete;
  ResultsStore& operator=(const ResultsStore&) = delete;

  const std::string& path() const { return path_; }
  const StoreOptions& options() const { return options_; }

  /// Inserts a run in status "running" with its parameters and plugins, atomically; returns its id.
  std::int64_t begin_run(const NewRun& run);
  /// Appends metric rows in one transaction. NaN values are stored as NULL. Throws RunNotHeld when the run is not
  /// running in this process (nor is any of the writes below, up to finish_run).
  void log_metrics(std::int64_t run_id, const std::vector<MetricRow>& rows);
  /// Appends rows worked out from a run that has ended (lr-find's smoothed curve and its suggestions); refused
  /// while the run runs in another process.
  void add_analysis(std::int64_t run_id, const std::vector<MetricRow>& rows);
  /// Records the run's last checkpoint, as an absolute path.
  void set_checkpoint(std::int64_t run_id, const std::string& path);
  /// Ends a run, writing `unsaved` metric rows (those a failed write could not record) in the same transaction;
  /// `error` is stored for runs that did not complete. Waits longer than other writes: closing a run is the
  /// write that must not be lost. When even that fails (a full disk), the closing is written into the space
  /// reserved beside the store when the run began, and the next command that opens the store records it.
  void finish_run(std::int64_t run_id, RunStatus status, const std::string& error = {},
                  const std::vector<MetricRow>& unsaved = {});

  /// Claims an interrupted, failed or diverged run for `ftrun resume`, atomically: only one process can win.
  /// The run becomes "running" under this process, and its metrics after `epoch` (the checkpoint it continues
  /// from) are dropped so its history stays one continuous run. Returns false when the run is not resumable
  /// (another process claimed it first, or it completed).
  bool claim_for_resume(std::int64_t run_id, std::int64_t epoch);

  struct StoredRun {
    std::string name, status, config_toml;
  };
  std::optional<StoredRun> find_run(std::int64_t run_id) const;

  std::vector<RunSummary> list_runs(const RunFilter& filter = {}) const;
  std::optional<std::string> status_of(std::int64_t run_id) const;
  /// The run's epochs in order.
  std::vector<EpochRow> epochs_of(std::int64_t run_id) const;
  /// The epochs of each of `run_ids`, in order (a run without any is left out). Many runs are read in a few
  /// statements, as are the other `_of_runs` reads: a PostgreSQL server is a round trip away, and one statement per
  /// run made `ftrun overfit` over 10,000 runs take tens of seconds there.
  std::map<std::int64_t, std::vector<EpochRow>> epochs_of_runs(const std::vector<std::int64_t>& run_ids) const;
  /// Every run (of experiment `name` and stage `stage`, when given) that has `key`: a flattened parameter
  /// (`optimizer.lr`), or `lr/<group>` for the highest learning rate a parameter group was given.
  std::vector<RunOutcome> outcomes_by(const std::string& key, const std::optional<std::string>& name,
                                      const std::optional<std::string>& stage,
                                      const std::optional<std::string>& group = std::nullopt) const;
  /// Each run's best epoch by its monitor, last epoch and gaps, as run_results keeps them (a run without epochs
  /// is left out): what `epoch_facts` works out from the run's epochs, without reading them.
  std::map<std::int64_t, EpochFacts> epoch_facts_of_runs(const std::vector<std::int64_t>& run_ids) const;
  /// The rows of validation_rises for one run, in order.
  std::vector<ValidationRise> validation_rises_of(std::int64_t run_id) const;
  std::map<std::int64_t, std::vector<ValidationRise>> validation_rises_of_runs(
      const std::vector<std::int64_t>& run_ids) const;
  /// Every parameter of a run, key → value as text, in key order.
  std::vector<std::pair<std::string, std::string>> params_of(std::int64_t run_id) const;
  /// The keys of a run's parameters that were defaults, not written in its experiment (none for runs recorded
  /// before schema version 6, which did not keep this).
  std::set<std::string> default_params_of(std::int64_t run_id) const;
  /// The plugins a run used, by kind, with their library files and versions.
  std::vector<PluginUse> plugins_of(std::int64_t run_id) const;
  /// Every metric row of a run, in the order written.
  std::vector<MetricRow> metrics_of(std::int64_t run_id) const;
  /// The stored value of parameter `key` of a run, as text.
  std::optional<std::string> param_of(std::int64_t run_id, const std::string& key) const;
  /// Parameter `key` of each of `run_ids` that has it.
  std::map<std::int64_t, std::string> param_of_runs(const std::vector<std::int64_t>& run_ids,
                                                    const std::string& key) const;
  /// The run's last checkpoint, checked to exist. A store moved with its checkpoint folder is found at the new
  /// place. Throws DataError when the recorded file is gone.
  std::optional<std::string> checkpoint_of(std::int64_t run_id) const;

  /// The sweep with `sweep.fingerprint`, or a new one with `trials` (all waiting) when the store has none; in one
  /// transaction, so workers started together agree on one sweep. Returns its id; `created` says which.
  std::int64_t open_sweep(const NewSweep& sweep, const std::vector<NewTrial>& trials, bool* created = nullptr);
  std::optional<StoredSweep> find_sweep(std::int64_t sweep_id) const;
  /// Every sweep, newest first.
  std::vector<StoredSweep> list_sweeps() const;
  /// Takes the lowest-numbered waiting trial for this process, in one write transaction, so no two workers take
  /// the same one. First puts back the trials whose worker is gone: on this host, its process has ended; on
  /// another, it sent no heartbeat for `stale`. A trial put back more than max_retries times is failed with the
  /// reason instead. When no trial is waiting, `propose` (a sampler that proposes as workers ask) is asked for
  /// one, which is recorded as taken in the same transaction. Nothing when no trial is waiting or proposed.
  std::optional<std::int64_t> claim_trial(std::int64_t sweep_id, std::chrono::seconds stale,
                                          const TrialProposer& propose = {});
  /// Says this process still works on the trial.
  void heartbeat_trial(std::int64_t sweep_id, std::int64_t number);
  /// Ends a trial this process holds: completed, pruned or failed, with its run and the reason of a failure.
  /// Returns false, changing nothing, when the trial is no longer this process's: its heartbeat stopped long
  /// enough (a network cut, a machine frozen) for another worker to have taken it again, whose outcome it must not
  /// overwrite.
  bool finish_trial(std::int64_t sweep_id, std::int64_t number, const std::string& state,
                    std::optional<std::int64_t> run_id, const std::string& error);
  /// Gives a trial this process holds back, not counted as an attempt (the worker was stopped by a signal).
  void release_trial(std::int64_t sweep_id, std::int64_t number);
  /// Whether run `run_id` (of sweep group `group_id` and stage `stage`) should stop after its evaluation at
  /// `epoch`, by `pruner` and the sweep's `metric` (a column of epoch_metrics) and `direction`, from the runs of the
  /// same group and stage as recorded now. The reason, or nothing.
  std::optional<std::string> prune_decision(const PrunerConfig& pruner, const std::string& group_id,
                                            const std::string& stage, std::int64_t run_id, std::int64_t epoch,
                                            const std::string& metric, const std::string& direction) const;
  /// How long each completed trial's run took, in seconds (for an estimate of the time left).
  std::vector<double> trial_seconds(std::int64_t sweep_id) const;
  /// A sweep's trials in order, with each run's objective.
  std::vector<TrialRow> trials_of(std::int64_t sweep_id) const;

  /// Copies into this store every run of the store `input` (with its parameters, plugins and metrics), every
  /// sweep (the same fingerprint is the same sweep) and every trial, in one transaction: ids are renumbered,
  /// sweeps' groups and trials follow their runs, a run already here (same start, host, process, name, stage,
  /// seed) is not copied again, and a finished trial replaces one this store has only waiting or running (another
  /// shard's). Refuses a store of another schema version.
  MergeReport merge_from(const std::string& input);

  /// Records the closings that could not be written when their runs ended (a full disk), then marks as
  /// interrupted the runs left "running" by processes of this host that no longer exist (killed with SIGKILL,
  /// power loss). Returns how many were marked interrupted.
  int close_abandoned_runs();

  /// This store's checkpoint folder, absolute: StoreOptions' when given; else, for an SQLite store, beside the
  /// database file and named after it (`results/ftrun.db` → `results/ftrun.db-checkpoints`, as SQLite names its
  /// `-wal` file), so two stores never share one; for a PostgreSQL store, `results/checkpoints` where the command
  /// runs.
  std::string checkpoint_dir() const;

 private:
  void open_and_upgrade();
  /// Connects to a PostgreSQL store and creates its schema when the database has none (open_postgres.cpp).
  void open_postgres();
  /// Copies the store to `<path>.v<version>.bak` (VACUUM INTO) unless that copy exists; returns its path.
  std::string back_up_before_upgrade(int version);
  /// Runs `fn` in one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE, or READ COMMITTED
  /// with `row_locks`, where `fn` locks the rows it changes: SqlConnection::write_transaction), retried `attempts`
  /// times on lock, I/O and serialization errors and a lost connection.
  template <class Fn>
  void write(const std::string& action, int attempts, Fn&& fn, bool row_locks = false);
  /// Runs one step of creating or upgrading the schema from `version` (`fn` executes `sql`); an SQLite error there
  /// means the file's tables are not that version's, and becomes a StoreError that says so.
  template <class Fn>
  void schema_step(int version, const std::string& sql, Fn&& fn);
  /// Throws when a store at version 0 already holds tables: another program's database.
  void refuse_foreign_tables();

  /// Records `rows` for run `run_id` inside a write; on a `retry`, or after a write of the run was cut off, leaves
  /// out those already recorded (store_internals::rows_already_recorded).
  void insert_new_rows(std::int64_t run_id, const std::vector<MetricRow>& rows, bool retry);
  /// Inserts a run's metric rows, in order, many rows per statement: what recording and merging share. NaN values
  /// are written as NULL. Its statements are prepared once per store: preparing one also compiles the triggers it
  /// sets off (epoch_metrics, run_results, validation_rises), ~1 ms on SQLite, which once per epoch tripled what
  /// recording cost a step of a 10-step epoch (bench/store_scale.cpp).
  void insert_metrics(std::int64_t run_id, const std::vector<MetricRow>& rows);

  /// The file beside the store where run `run_id`'s closing is kept when the database cannot take it
  /// (closing_journal.cpp): `<checkpoint_dir>/run-<id>/closing`.
  std::string closing_journal_path(std::int64_t run_id) const;
  /// Reserves that file's space on disk when a run begins (or resumes), so that closing it needs no new space.
  void reserve_closing_journal(std::int64_t run_id) const;
  /// Records the closings kept in journals of runs still marked running, and removes those journals.
  void apply_closing_journals();

  /// Resets a kept statement when its user is done, so that it never holds a read transaction open.
  struct ResetStatement {
    void operator()(SqlQuery* statement) const;
  };
  /// A prepared statement for `sql`, kept for the store's lifetime: the queries asked once per run (ftrun
  /// overfit over a thousand runs) are parsed once. Reset when the returned handle goes.
  std::unique_ptr<SqlQuery, ResetStatement> prepared(const std::string& sql) const;
  /// Runs the statement `sql_for(list)` for `run_ids` a few hundred at a time: `list` is its "(?, ?, ...)" of ids,
  /// bound first, then `after`'s values; calls `read` on each row.
  template <class Read>
  void for_runs_in_pieces(const std::vector<std::int64_t>& run_ids,
                          const std::function<std::string(const std::string&)>& sql_for,
                          const std::vector<std::string>& after, Read&& read) const;

  std::string path_;
  StoreOptions options_;
  /// The SQLite file, for what only SQLite has (its pragmas, VACUUM INTO backups); null for a PostgreSQL store.
  std::unique_ptr<SQLite::Database> db_;
  /// Every query of the store goes through this, whichever the backend (sql_connection.h).
  std::unique_ptr<SqlConnection> sql_;
  mutable std::map<std::string, std::unique_ptr<SqlQuery>> statements_;
  /// Runs whose last write of metric rows ended with the server unreachable, perhaps after it committed.
  std::set<std::int64_t> cut_off_writes_;
};

/// The store path to use: the command line's, else the experiment's, else $FTRUN_STORE, else results/ftrun.db.
std::string resolve_store_path(const std::string& from_command_line, const std::string& from_experiment);

}  // namespace ft
