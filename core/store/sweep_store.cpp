// The store's sweeps and trials (docs/sweeps.md): created once per fingerprint, taken by workers one trial at a
// time in write transactions, given back when their worker is gone.
#include "store/postgres_connection.h"
#include "store/results_store.h"
#include "store/store_internals.h"

#include <algorithm>
#include <sstream>

namespace ft {

using namespace store_internals;

namespace {

// `metric`, checked to be an epoch_metrics column before it is written into SQL.
const std::string& metric_column(const std::string& metric, const std::string& store) {
  const auto& names = objective_metrics();
  if (std::find(names.begin(), names.end(), metric) == names.end()) {
    throw StoreError("results store " + store + ": '" + metric + "' is not a metric a sweep can be judged by");
  }
  return metric;
}

std::string joined_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

StoredSweep read_sweep(const SqlQuery& query) {
  StoredSweep sweep;
  sweep.id = query.getColumn(0).getInt64();
  sweep.name = query.getColumn(1).getString();
  sweep.experiment_file = query.getColumn(2).getString();
  sweep.definition = query.getColumn(3).getString();
  sweep.overrides = split_lines(query.getColumn(4).getString());
  sweep.method = query.getColumn(5).getString();
  sweep.metric = query.getColumn(6).getString();
  sweep.direction = query.getColumn(7).getString();
  sweep.max_retries = query.getColumn(8).getInt64();
  sweep.created_at = query.getColumn(9).getString();
  return sweep;
}

constexpr const char* kSweepColumns =
    "id, name, experiment_file, definition, overrides, method, metric, direction, max_retries, created_at";

}  // namespace

std::int64_t ResultsStore::open_sweep(const NewSweep& sweep, const std::vector<NewTrial>& trials, bool* created) {
  std::int64_t id = 0;
  bool made = false;
  write("record the sweep", options_.write_attempts, [&] {
    made = false;
    SqlQuery find(*sql_, "SELECT id FROM sweeps WHERE fingerprint = ?");
    find.bind(1, sweep.fingerprint);
    if (find.executeStep()) {
      id = find.getColumn(0).getInt64();
      find.reset();
    } else {
      SqlQuery insert(*sql_, R"(INSERT INTO sweeps (name, experiment_file, fingerprint, definition, overrides,
          method, metric, direction, max_retries, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id)");
      insert.bind(1, sweep.name);
      insert.bind(2, sweep.experiment_file);
      insert.bind(3, sweep.fingerprint);
      insert.bind(4, sweep.definition);
      insert.bind(5, joined_lines(sweep.overrides));
      insert.bind(6, sweep.method);
      insert.bind(7, sweep.metric);
      insert.bind(8, sweep.direction);
      insert.bind(9, static_cast<std::int64_t>(sweep.max_retries));
      insert.bind(10, now_utc());
      insert.executeStep();
      id = insert.getColumn(0).getInt64();
      insert.reset();
      made = true;
    }
    // Trials already recorded keep their state (a sweep run again continues where it stopped); another shard of
    // the same sweep may bring trials this store has not seen.
    SqlQuery trial(*sql_, R"(INSERT INTO trials (sweep_id, number, params, seed, state, sampler)
        VALUES (?, ?, ?, ?, 'waiting', ?) ON CONFLICT (sweep_id, number) DO NOTHING)");
    for (const auto& t : trials) {
      trial.bind(1, id);
      trial.bind(2, static_cast<std::int64_t>(t.number));
      trial.bind(3, t.params);
      trial.bind(4, static_cast<std::int64_t>(t.seed));
      trial.bind(5, t.sampler);
      trial.exec();
      trial.reset();
    }
  });
  if (created) *created = made;
  return id;
}

std::optional<StoredSweep> ResultsStore::find_sweep(std::int64_t sweep_id) const {
  return guarded(path_, "read a sweep", [&]() -> std::optional<StoredSweep> {
    SqlQuery query(*sql_, std::string("SELECT ") + kSweepColumns + " FROM sweeps WHERE id = ?");
    query.bind(1, sweep_id);
    if (!query.executeStep()) return std::nullopt;
    return read_sweep(query);
  });
}

std::vector<StoredSweep> ResultsStore::list_sweeps() const {
  return guarded(path_, "list sweeps", [&] {
    SqlQuery query(*sql_, std::string("SELECT ") + kSweepColumns + " FROM sweeps ORDER BY id DESC");
    std::vector<StoredSweep> sweeps;
    while (query.executeStep()) sweeps.push_back(read_sweep(query));
    return sweeps;
  });
}

namespace {

// The lowest-numbered waiting trial of the sweep, locked for this transaction. On PostgreSQL, trials another
// worker is taking right now are skipped (a work queue's `FOR UPDATE SKIP LOCKED`: workers take different trials
// at once instead of failing on each other); when every waiting trial is being taken, it waits for those workers
// and reads again, so that one whose transaction rolls back leaves its trial to this one. SQLite's write lock
// already makes this worker the only one (`row_locks` false: one plain read).
std::optional<std::int64_t> next_waiting_trial(SqlConnection& sql, std::int64_t sweep_id, bool row_locks) {
  const std::string find = "SELECT number FROM trials WHERE sweep_id = ? AND state = 'waiting' ORDER BY number LIMIT 1";
  for (const char* lock : {" FOR UPDATE SKIP LOCKED", " FOR UPDATE"}) {
    SqlQuery query(sql, find + (row_locks ? lock : ""));
    query.bind(1, sweep_id);
    if (query.executeStep()) return query.getColumn(0).getInt64();
    if (!row_locks) break;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::int64_t> ResultsStore::claim_trial(std::int64_t sweep_id, std::chrono::seconds stale,
                                                      const TrialProposer& propose) {
  std::optional<std::int64_t> claimed;
  const std::string host = host_name();
  // Row locks (READ COMMITTED) on PostgreSQL: see next_waiting_trial.
  const bool row_locks = is_postgres_url(path_);
  const auto take_one = [&] {
    claimed.reset();
    SqlQuery retries(*sql_, "SELECT max_retries FROM sweeps WHERE id = ?");
    retries.bind(1, sweep_id);
    if (!retries.executeStep()) throw StoreError("results store " + path_ + ": no sweep " + std::to_string(sweep_id));
    const std::int64_t max_retries = retries.getColumn(0).getInt64();
    retries.reset();

    // Trials whose worker is gone go back to waiting, or fail once they have used up their retries.
    SqlQuery running(*sql_, R"(SELECT number, host, pid, attempts,
        (julianday('now') - julianday(heartbeat_at)) * 86400.0, COALESCE(heartbeat_at, '') FROM trials
        WHERE sweep_id = ? AND state = 'running')");
    running.bind(1, sweep_id);
    struct Gone {
      std::int64_t number, attempts;
      std::string host;
      std::int64_t pid;
      bool ended;  // its process is gone (this host); else it was silent
      double silent;
      std::string heartbeat;  // as read: the trial is put back only if it has not beaten since
      std::string worker() const { return host + " pid " + std::to_string(pid); }
    };
    std::vector<Gone> gone;
    while (running.executeStep()) {
      const std::string worker_host = running.getColumn(1).getString();
      const std::int64_t pid = running.getColumn(2).getInt64();
      const double silent = running.getColumn(4).isNull() ? 1e9 : running.getColumn(4).getDouble();
      const bool ended = worker_host == host && !process_alive(pid);
      if (ended || silent > static_cast<double>(stale.count())) {
        gone.push_back({running.getColumn(0).getInt64(), running.getColumn(3).getInt64(), worker_host, pid, ended,
                        silent, running.getColumn(5).getString()});
      }
    }
    running.reset();
    for (const auto& trial : gone) {
      const bool give_up = trial.attempts > max_retries;
      // Only as it was read: on PostgreSQL (READ COMMITTED) its worker may have beaten since, or another worker
      // put it back first; then it is left alone.
      SqlQuery update(*sql_, R"(UPDATE trials SET state = ?, error = ?, host = NULL, pid = NULL
          WHERE sweep_id = ? AND number = ? AND state = 'running' AND host = ? AND pid = ?
          AND COALESCE(heartbeat_at, '') = ?)");
      update.bind(1, give_up ? "failed" : "waiting");
      update.bind(2, "its worker (" + trial.worker() + ") stopped before the trial ended" +
                         (give_up ? ", " + std::to_string(trial.attempts) + " time(s): no retries left"
                                  : std::string("; put back")));
      update.bind(3, sweep_id);
      update.bind(4, trial.number);
      update.bind(5, trial.host);
      update.bind(6, trial.pid);
      update.bind(7, trial.heartbeat);
      if (update.exec() == 0) continue;
      // The trial's runs, which that worker may still be training (cut off from the store, not dead), are closed
      // for it: their fence (check_run_held, run_writes.cpp) then refuses the rows it sends if it comes back. A
      // worker trains one trial at a time, so its running runs of this sweep are that trial's.
      SqlQuery close(*sql_, R"(UPDATE runs SET status = 'interrupted', ended_at = ?, error = ?
          WHERE status = 'running' AND group_id = ? AND host = ? AND pid = ?)");
      close.bind(1, now_utc());
      close.bind(2, "its worker (" + trial.worker() + ") " +
                        (trial.ended
                             ? std::string("ended without closing it")
                             : "sent no heartbeat for " + std::to_string(static_cast<long long>(trial.silent)) + " s") +
                        "; trial " + std::to_string(trial.number) + " was put back for another worker");
      close.bind(3, sweep_group(sweep_id));
      close.bind(4, trial.host);
      close.bind(5, trial.pid);
      close.exec();
    }

    std::optional<std::int64_t> number = next_waiting_trial(*sql_, sweep_id, row_locks);
    if (!number && propose && row_locks) {
      // None waiting: a sampler that proposes as workers ask sees every trial so far, one worker at a time (on
      // SQLite its write lock already; here the sweep's row, locked), so two workers never propose the same trial
      // number. A trial put back while this worker waited for the lock is taken first.
      SqlQuery lock(*sql_, "SELECT id FROM sweeps WHERE id = ? FOR UPDATE");
      lock.bind(1, sweep_id);
      lock.executeStep();
      lock.reset();
      number = next_waiting_trial(*sql_, sweep_id, row_locks);
    }
    if (!number) {
      if (!propose) return;
      const auto proposal = propose(trials_of(sweep_id));
      if (!proposal) return;
      SqlQuery insert(*sql_, R"(INSERT INTO trials (sweep_id, number, params, seed, state, sampler, host, pid,
          heartbeat_at, attempts) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ftrun_now(), 1))");
      insert.bind(1, sweep_id);
      insert.bind(2, static_cast<std::int64_t>(proposal->number));
      insert.bind(3, proposal->params);
      insert.bind(4, static_cast<std::int64_t>(proposal->seed));
      insert.bind(5, proposal->sampler);
      insert.bind(6, host);
      insert.bind(7, static_cast<std::int64_t>(::getpid()));
      insert.exec();
      claimed = proposal->number;
      return;
    }
    SqlQuery take(*sql_, R"(UPDATE trials SET state = 'running', host = ?, pid = ?, heartbeat_at = ftrun_now(),
        attempts = attempts + 1 WHERE sweep_id = ? AND number = ? AND state = 'waiting')");
    take.bind(1, host);
    take.bind(2, static_cast<std::int64_t>(::getpid()));
    take.bind(3, sweep_id);
    take.bind(4, *number);
    if (take.exec() == 1) claimed = number;
  };
  write("take a trial of sweep " + std::to_string(sweep_id), options_.write_attempts, take_one, row_locks);
  return claimed;
}

void ResultsStore::heartbeat_trial(std::int64_t sweep_id, std::int64_t number) {
  write("record a trial's heartbeat", options_.write_attempts, [&] {
    // This worker's trial only (the same pid may be another host's worker).
    SqlQuery update(*sql_, R"(UPDATE trials SET heartbeat_at = ftrun_now()
        WHERE sweep_id = ? AND number = ? AND host = ? AND pid = ?)");
    update.bind(1, sweep_id);
    update.bind(2, number);
    update.bind(3, host_name());
    update.bind(4, static_cast<std::int64_t>(::getpid()));
    update.exec();
  });
}

// Only the worker that holds a trial may close it or give it back: the same host and process, and the trial still
// running. A worker whose trial was taken again while it was silent is fenced off here (docs/store.md).
constexpr const char* kHeldByThisWorker = " AND state = 'running' AND host = :host AND pid = :pid";

bool ResultsStore::finish_trial(std::int64_t sweep_id, std::int64_t number, const std::string& state,
                                std::optional<std::int64_t> run_id, const std::string& error) {
  bool closed = false;
  write("close trial " + std::to_string(number) + " of sweep " + std::to_string(sweep_id), 3 * options_.write_attempts,
        [&] {
          SqlQuery update(*sql_, std::string(R"(UPDATE trials SET state = :state, run_id = :run, error = :error,
              heartbeat_at = ftrun_now() WHERE sweep_id = :sweep AND number = :number)") +
                                     kHeldByThisWorker);
          update.bind(":state", state);
          if (run_id)
            update.bind(":run", *run_id);
          else
            update.bind(":run");
          if (error.empty())
            update.bind(":error");
          else
            update.bind(":error", error);
          update.bind(":sweep", sweep_id);
          update.bind(":number", number);
          update.bind(":host", host_name());
          update.bind(":pid", static_cast<std::int64_t>(::getpid()));
          closed = update.exec() == 1;
        });
  return closed;
}

void ResultsStore::release_trial(std::int64_t sweep_id, std::int64_t number) {
  write(
      "give back trial " + std::to_string(number) + " of sweep " + std::to_string(sweep_id),
      3 * options_.write_attempts, [&] {
        SqlQuery update(
            *sql_,
            std::string(
                R"(UPDATE trials SET state = 'waiting', attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
              host = NULL, pid = NULL WHERE sweep_id = :sweep AND number = :number)") +
                kHeldByThisWorker);
        update.bind(":sweep", sweep_id);
        update.bind(":number", number);
        update.bind(":host", host_name());
        update.bind(":pid", static_cast<std::int64_t>(::getpid()));
        update.exec();
      });
}

std::optional<std::string> ResultsStore::prune_decision(const PrunerConfig& pruner, const std::string& group_id,
                                                        const std::string& stage, std::int64_t run_id,
                                                        std::int64_t epoch, const std::string& metric,
                                                        const std::string& direction) const {
  if (pruner.type == "none") return std::nullopt;
  metric_column(metric, path_);
  const bool minimize = direction == "min";
  const std::string best = minimize ? "MIN" : "MAX";
  return guarded(path_, "decide whether to prune", [&]() -> std::optional<std::string> {
    // Each run's best value up to `epoch` (the column is one of four names, checked above).
    auto best_values = [&](std::int64_t up_to, const std::string& condition) {
      SqlQuery query(*sql_, "SELECT r.id, " + best + "(e." + metric +
                                ") FROM runs r JOIN epoch_metrics e ON "
                                "e.run_id = r.id WHERE r.group_id = ? AND r.stage = ? AND e.epoch <= ? AND e." +
                                metric + " IS NOT NULL " + condition + " GROUP BY r.id");
      query.bind(1, group_id);
      query.bind(2, stage);
      query.bind(3, up_to);
      std::vector<std::pair<std::int64_t, double>> values;
      while (query.executeStep()) values.emplace_back(query.getColumn(0).getInt64(), query.getColumn(1).getDouble());
      return values;
    };
    auto own_of = [&](const std::vector<std::pair<std::int64_t, double>>& values) -> std::optional<double> {
      for (const auto& [id, value] : values) {
        if (id == run_id) return value;
      }
      return std::nullopt;
    };
    if (pruner.type == "median") {
      const auto values = best_values(epoch, "AND (r.status = 'completed' OR r.id = " + std::to_string(run_id) + ")");
      const auto own = own_of(values);
      if (!own) return std::nullopt;
      std::vector<double> others;
      for (const auto& [id, value] : values) {
        if (id != run_id) others.push_back(value);
      }
      return median_decision(pruner, epoch, *own, others, minimize);
    }
    // asha: decided once per rung, at the first evaluation that reaches it.
    SqlQuery previous(*sql_,
                      "SELECT COALESCE(MAX(epoch), 0) FROM epoch_metrics WHERE run_id = ? AND epoch < ? "
                      "AND " +
                          metric + " IS NOT NULL");
    previous.bind(1, run_id);
    previous.bind(2, epoch);
    previous.executeStep();
    const auto rung = asha_rung(pruner, previous.getColumn(0).getInt64(), epoch);
    if (!rung) return std::nullopt;
    // Every run that reached the rung (trained to it, whatever it became since), this one included.
    const auto values = best_values(
        *rung, "AND (SELECT MAX(epoch) FROM epoch_metrics x WHERE x.run_id = r.id) >= " + std::to_string(*rung));
    const auto own = own_of(values);
    if (!own) return std::nullopt;
    std::vector<double> reached;
    for (const auto& entry : values) reached.push_back(entry.second);
    return asha_decision(pruner, *rung, *own, reached, minimize);
  });
}

std::vector<double> ResultsStore::trial_seconds(std::int64_t sweep_id) const {
  return guarded(path_, "read a sweep's trials", [&] {
    SqlQuery query(*sql_, R"(SELECT (julianday(r.ended_at) - julianday(r.started_at)) * 86400.0
        FROM trials t JOIN runs r ON r.id = t.run_id WHERE t.sweep_id = ? AND t.state = 'completed'
        AND r.ended_at IS NOT NULL)");
    query.bind(1, sweep_id);
    std::vector<double> seconds;
    while (query.executeStep()) seconds.push_back(query.getColumn(0).getDouble());
    return seconds;
  });
}

std::vector<TrialRow> ResultsStore::trials_of(std::int64_t sweep_id) const {
  const auto sweep = find_sweep(sweep_id);
  if (!sweep) throw StoreError("results store " + path_ + ": no sweep " + std::to_string(sweep_id));
  metric_column(sweep->metric, path_);  // checked when the sweep was read, and again before it meets SQL
  const std::string best = sweep->direction == "min" ? "MIN" : "MAX";
  return guarded(path_, "read a sweep's trials", [&] {
    SqlQuery query(*sql_,
                   "SELECT t.number, t.params, t.state, COALESCE(t.error, ''), COALESCE(t.host, ''), "
                   "t.seed, t.run_id, t.attempts, (SELECT " +
                       best + "(e." + sweep->metric +
                       ") FROM epoch_metrics e WHERE e.run_id = t.run_id), t.sampler, last.epoch, last." +
                       sweep->metric +
                       " FROM trials t LEFT JOIN epoch_metrics last ON last.run_id = t.run_id AND last.epoch "
                       "= (SELECT MAX(e.epoch) FROM epoch_metrics e WHERE e.run_id = t.run_id AND e." +
                       sweep->metric + " IS NOT NULL) WHERE t.sweep_id = ? ORDER BY t.number");
    query.bind(1, sweep_id);
    std::vector<TrialRow> rows;
    while (query.executeStep()) {
      TrialRow row;
      row.number = query.getColumn(0).getInt64();
      row.params = query.getColumn(1).getString();
      row.state = query.getColumn(2).getString();
      row.error = query.getColumn(3).getString();
      row.host = query.getColumn(4).getString();
      row.seed = static_cast<std::uint64_t>(query.getColumn(5).getInt64());
      if (!query.getColumn(6).isNull()) row.run_id = query.getColumn(6).getInt64();
      row.attempts = query.getColumn(7).getInt64();
      row.objective = optional_real(query, 8);
      row.sampler = query.getColumn(9).getString();
      if (!query.getColumn(10).isNull()) row.last_epoch = query.getColumn(10).getInt64();
      row.last_value = optional_real(query, 11);
      rows.push_back(std::move(row));
    }
    return rows;
  });
}

}  // namespace ft
