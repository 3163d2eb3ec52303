// Writing runs: a run begins, its metrics and checkpoints are recorded, it is closed (or claimed again to resume),
// and runs whose process died are closed for it.
#include "store/results_store.h"

#include "store/closing_journal.h"
#include "store/store_internals.h"

#include "log/log.h"

#include <ftsdk/error.h>
#include <ftsdk/version.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <utility>

namespace fs = std::filesystem;

namespace ft {

using namespace store_internals;

namespace {

// `reals_as_text`: for PostgreSQL, whose run_params.value is TEXT, a double is bound as real_text writes it, so
// that both backends show a parameter alike ("1.0", not "1").
void bind_value(SqlQuery& statement, int index, const ParamValue& value, bool reals_as_text) {
  if (auto* b = std::get_if<bool>(&value.data)) {
    statement.bind(index, *b ? 1 : 0);
  } else if (auto* i = std::get_if<std::int64_t>(&value.data)) {
    statement.bind(index, static_cast<std::int64_t>(*i));
  } else if (auto* d = std::get_if<double>(&value.data)) {
    if (reals_as_text)
      statement.bind(index, real_text(*d));
    else
      statement.bind(index, *d);
  } else if (auto* s = std::get_if<std::string>(&value.data)) {
    statement.bind(index, *s);
  } else {
    // Arrays are stored as their TOML text, e.g. [5, 6, 7].
    std::string text = "[";
    for (const auto& element : std::get<ParamValue::Array>(value.data)) {
      if (text.size() > 1) text += ", ";
      if (auto* es = std::get_if<std::string>(&element.data))
        text += "\"" + *es + "\"";
      else if (auto* eb = std::get_if<bool>(&element.data))
        text += *eb ? "true" : "false";
      else if (auto* ei = std::get_if<std::int64_t>(&element.data))
        text += std::to_string(*ei);
      else if (auto* ed = std::get_if<double>(&element.data))
        text += std::to_string(*ed);
    }
    statement.bind(index, text + "]");
  }
}

void bind_metric_value(SqlQuery& statement, int index, double value) {
  if (std::isnan(value))
    statement.bind(index);  // SQLite has no NaN: NULL stands for it (docs/store.md)
  else
    statement.bind(index, value);
}

}  // namespace

const char* to_string(RunStatus status) {
  switch (status) {
    case RunStatus::running: return "running";
    case RunStatus::completed: return "completed";
    case RunStatus::failed: return "failed";
    case RunStatus::interrupted: return "interrupted";
    case RunStatus::diverged: return "diverged";
    case RunStatus::pruned: return "pruned";
  }
  return "unknown";
}

std::int64_t ResultsStore::begin_run(const NewRun& run) {
  std::int64_t id = 0;
  write("record the new run", options_.write_attempts, [&] {
    SqlQuery insert(*sql_, R"(INSERT INTO runs
        (name, stage, group_id, parent_run_id, status, started_at, experiment_file, config_toml, seed, device,
         threads, ftrun_version, torch_version, host, pid, task, primary_metric, primary_direction)
        VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id)");
    insert.bind(1, run.name);
    insert.bind(2, run.stage);
    insert.bind(3, run.group_id);
    if (run.parent_run_id) insert.bind(4, static_cast<std::int64_t>(*run.parent_run_id));
    insert.bind(5, now_utc());
    insert.bind(6, run.experiment_file);
    insert.bind(7, run.config_toml);
    insert.bind(8, static_cast<std::int64_t>(run.seed));
    insert.bind(9, run.device);
    insert.bind(10, static_cast<std::int64_t>(run.threads));
    insert.bind(11, kFtrunVersion);
    insert.bind(12, run.torch_version);
    insert.bind(13, host_name());
    insert.bind(14, static_cast<std::int64_t>(::getpid()));
    insert.bind(15, run.task);
    insert.bind(16, run.primary_metric);
    insert.bind(17, run.primary_direction);
    insert.executeStep();
    id = insert.getColumn(0).getInt64();
    insert.reset();

    SqlQuery param(*sql_,
                   R"(INSERT INTO run_params (run_id, key, value, is_default) VALUES (?, ?, ?, ?)
        ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, is_default = excluded.is_default)");
    for (const auto& [key, value] : run.params) {
      param.bind(1, static_cast<std::int64_t>(id));
      param.bind(2, key);
      bind_value(param, 3, value, parameters_are_text(*sql_));
      param.bind(4, run.default_keys.count(key) ? 1 : 0);
      param.exec();
      param.reset();
    }
    SqlQuery plugin(*sql_, R"(INSERT INTO run_plugins
        (run_id, kind, component, library, plugin_name, plugin_version) VALUES (?, ?, ?, ?, ?, ?))");
    for (const auto& use : run.plugins) {
      plugin.bind(1, static_cast<std::int64_t>(id));
      plugin.bind(2, use.kind);
      plugin.bind(3, use.component);
      plugin.bind(4, use.library);
      plugin.bind(5, use.plugin_name);
      plugin.bind(6, use.plugin_version);
      plugin.exec();
      plugin.reset();
    }
  });
  reserve_closing_journal(id);
  return id;
}

namespace {

// Rows in statements of up to kRowsPerInsert rows each, in order (metrics' rowid is the order they were recorded
// in): a PostgreSQL server is a round trip away, and one statement per row made recording there 4 times as costly
// as on SQLite (bench/store_postgres.sh); SQLite gains a little too.
constexpr std::size_t kRowsPerInsert = 100;

}  // namespace

void ResultsStore::insert_metrics(std::int64_t run_id, const std::vector<MetricRow>& rows) {
  const auto statement_for = [](std::size_t count) {
    std::string text = "INSERT INTO metrics (run_id, scope, epoch, step, name, value) VALUES ";
    for (std::size_t i = 0; i < count; ++i) text += i == 0 ? "(?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?)";
    return text;
  };
  for (std::size_t first = 0; first < rows.size(); first += kRowsPerInsert) {
    const std::size_t count = std::min(kRowsPerInsert, rows.size() - first);
    auto statement = prepared(statement_for(count));
    SqlQuery& insert = *statement;
    for (std::size_t i = 0; i < count; ++i) {
      const MetricRow& row = rows[first + i];
      const int base = static_cast<int>(6 * i);
      insert.bind(base + 1, static_cast<std::int64_t>(run_id));
      insert.bind(base + 2, row.scope);
      insert.bind(base + 3, static_cast<std::int64_t>(row.epoch));
      insert.bind(base + 4, static_cast<std::int64_t>(row.step));
      insert.bind(base + 5, row.name);
      bind_metric_value(insert, base + 6, row.value);
    }
    insert.exec();
  }
}

namespace {

// Who holds a run now: its status and the host and process that began or last resumed it.
struct RunClaim {
  std::string status, host;
  std::int64_t pid = 0;
  std::string error;
  bool by_this_process() const { return host == host_name() && pid == ::getpid(); }
};

std::optional<RunClaim> claim_of(SqlConnection& sql, std::int64_t run_id) {
  SqlQuery query(sql, "SELECT status, host, pid, error FROM runs WHERE id = ?");
  query.bind(1, run_id);
  if (!query.executeStep()) return std::nullopt;
  return RunClaim{query.getColumn(0).getString(), query.getColumn(1).getString(), query.getColumn(2).getInt64(),
                  query.getColumn(3).isNull() ? "" : query.getColumn(3).getString()};
}

// Throws RunNotHeld unless run `run_id` of the store at `path`, whose `claim` is as read, is running in this process:
// the fence of every write of a running run, checked inside its transaction.
void check_run_held(const std::string& path, std::int64_t run_id, const std::optional<RunClaim>& claim) {
  if (!claim) throw RunNotHeld("results store " + path + ": no run " + std::to_string(run_id));
  if (claim->status == "running" && claim->by_this_process()) return;
  throw RunNotHeld("results store " + path + ": run " + std::to_string(run_id) + " is no longer this process's (" +
                   (claim->status == "running"
                        ? "it is running in " + claim->host + " pid " + std::to_string(claim->pid)
                        : "it was recorded as " + claim->status + (claim->error.empty() ? "" : ": " + claim->error)) +
                   "); its rows from here are refused, not mixed into it");
}

}  // namespace

std::size_t store_internals::rows_already_recorded(SqlConnection& sql, std::int64_t run_id,
                                                   const std::vector<MetricRow>& rows) {
  SqlQuery last(sql, "SELECT scope, epoch, step, name FROM metrics WHERE run_id = ? ORDER BY rowid DESC LIMIT 1");
  last.bind(1, run_id);
  if (!last.executeStep()) return 0;
  const MetricRow found{last.getColumn(0).getString(), last.getColumn(1).getInt64(), last.getColumn(2).getInt64(),
                        last.getColumn(3).getString(), 0};
  for (std::size_t i = rows.size(); i-- > 0;) {
    const MetricRow& row = rows[i];
    if (row.scope == found.scope && row.epoch == found.epoch && row.step == found.step && row.name == found.name) {
      return i + 1;
    }
  }
  return 0;
}

void ResultsStore::insert_new_rows(std::int64_t run_id, const std::vector<MetricRow>& rows, bool retry) {
  if (rows.empty()) return;
  const std::size_t skip = retry || cut_off_writes_.count(run_id) ? rows_already_recorded(*sql_, run_id, rows) : 0;
  if (skip > 0) {
    insert_metrics(run_id, std::vector<MetricRow>(rows.begin() + static_cast<std::ptrdiff_t>(skip), rows.end()));
  } else {
    insert_metrics(run_id, rows);
  }
}

void ResultsStore::log_metrics(std::int64_t run_id, const std::vector<MetricRow>& rows) {
  if (rows.empty()) return;
  bool retry = false;
  try {
    write("record metrics", options_.write_attempts, [&] {
      check_run_held(path_, run_id, claim_of(*sql_, run_id));
      insert_new_rows(run_id, rows, std::exchange(retry, true));
    });
  } catch (const StoreUnreachable&) {
    cut_off_writes_.insert(run_id);
    throw;
  }
  cut_off_writes_.erase(run_id);
}

void ResultsStore::add_analysis(std::int64_t run_id, const std::vector<MetricRow>& rows) {
  write("record the run's analysis", options_.write_attempts, [&] {
    const auto claim = claim_of(*sql_, run_id);
    if (claim && claim->status == "running") check_run_held(path_, run_id, claim);
    insert_metrics(run_id, rows);
  });
}

void ResultsStore::set_checkpoint(std::int64_t run_id, const std::string& path) {
  write("record the checkpoint", options_.write_attempts, [&] {
    check_run_held(path_, run_id, claim_of(*sql_, run_id));
    SqlQuery update(*sql_, "UPDATE runs SET checkpoint_path = ? WHERE id = ?");
    update.bind(1, fs::absolute(path).lexically_normal().string());
    update.bind(2, static_cast<std::int64_t>(run_id));
    update.exec();
  });
}

void ResultsStore::finish_run(std::int64_t run_id, RunStatus status, const std::string& error,
                              const std::vector<MetricRow>& unsaved) {
  const std::string journal = closing_journal_path(run_id);
  try {
    bool retry = false;
    write("close run " + std::to_string(run_id), 3 * options_.write_attempts, [&] {
      // A closing whose COMMIT reached the server just before the connection went is not closed twice (nor
      // refused as no longer this process's).
      const bool again = std::exchange(retry, true);
      const auto claim = claim_of(*sql_, run_id);
      if (again && claim && claim->status == to_string(status) && claim->by_this_process()) return;
      check_run_held(path_, run_id, claim);
      insert_new_rows(run_id, unsaved, again);
      SqlQuery update(*sql_, "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?");
      update.bind(1, to_string(status));
      update.bind(2, now_utc());
      if (error.empty())
        update.bind(3);
      else
        update.bind(3, error);
      update.bind(4, static_cast<std::int64_t>(run_id));
      update.exec();
    });
  } catch (const RunNotHeld&) {
    throw;  // not this process's to close: nothing to keep for later
  } catch (const StoreError& failure) {
    // The database cannot take the closing row (its disk is full, or it is locked past every retry): the closing
    // goes into the space reserved when the run began, and the next ftrun that opens the store records it.
    const ClosingRecord record{to_string(status), now_utc(), error, unsaved};
    if (!write_closing_journal(journal, record)) throw;
    throw StoreError(std::string(failure.what()) + "; the run's closing (" + record.status + ", its error and " +
                     std::to_string(unsaved.size()) + " unwritten metric rows) is kept in " + journal +
                     " and is recorded by the next ftrun command that opens this store when it can be written");
  }
  std::error_code ignored;
  fs::remove(journal, ignored);
}

bool ResultsStore::claim_for_resume(std::int64_t run_id, std::int64_t epoch) {
  bool claimed = false;
  write("claim run " + std::to_string(run_id) + " for resuming", options_.write_attempts, [&] {
    // The status test and the update are one statement inside a write transaction: of two processes resuming
    // the same run, exactly one sees a resumable status.
    SqlQuery update(*sql_, R"(UPDATE runs SET status = 'running', ended_at = NULL, error = NULL, host = ?,
        pid = ? WHERE id = ? AND status IN ('interrupted', 'failed', 'diverged'))");
    update.bind(1, host_name());
    update.bind(2, static_cast<std::int64_t>(::getpid()));
    update.bind(3, static_cast<std::int64_t>(run_id));
    claimed = update.exec() == 1;
    if (!claimed) return;
    SqlQuery drop(*sql_, "DELETE FROM metrics WHERE run_id = ? AND epoch > ?");
    drop.bind(1, static_cast<std::int64_t>(run_id));
    drop.bind(2, static_cast<std::int64_t>(epoch));
    drop.exec();
  });
  if (claimed) reserve_closing_journal(run_id);
  return claimed;
}

std::string ResultsStore::closing_journal_path(std::int64_t run_id) const {
  return (fs::path(checkpoint_dir()) / ("run-" + std::to_string(run_id)) / "closing").string();
}

void ResultsStore::reserve_closing_journal(std::int64_t run_id) const {
  if (!reserve_closing_file(closing_journal_path(run_id))) {
    log::warn("results store " + path_ + ": no room to reserve " + closing_journal_path(run_id) +
              "; if the disk fills during run " + std::to_string(run_id) +
              ", it may be left marked running (the next ftrun then calls it interrupted)");
  }
}

void ResultsStore::apply_closing_journals() {
  const auto running = guarded(path_, "look for runs to close", [&] {
    SqlQuery query(*sql_, "SELECT id FROM runs WHERE status = 'running'");
    std::vector<std::int64_t> ids;
    while (query.executeStep()) ids.push_back(query.getColumn(0).getInt64());
    return ids;
  });
  for (const std::int64_t id : running) {
    const std::string journal = closing_journal_path(id);
    const auto record = read_closing_journal(journal);
    if (!record) continue;  // none, or only the reservation of a run that is still training
    try {
      write("record run " + std::to_string(id) + "'s closing from " + journal, options_.write_attempts, [&] {
        insert_metrics(id, record->rows);
        SqlQuery update(*sql_,
                        "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ? AND status = "
                        "'running'");
        update.bind(1, record->status);
        update.bind(2, record->ended_at);
        if (record->error.empty())
          update.bind(3);
        else
          update.bind(3, record->error);
        update.bind(4, static_cast<std::int64_t>(id));
        update.exec();
      });
    } catch (const StoreError& error) {
      log::warn(std::string(error.what()) + " (kept for the next try)");
      continue;
    }
    std::error_code ignored;
    fs::remove(journal, ignored);
    log::info("run " + std::to_string(id) + " recorded as " + record->status + " from " + journal + " (" +
              std::to_string(record->rows.size()) + " metric rows it could not write when it ended)");
  }
}

int ResultsStore::close_abandoned_runs() {
  apply_closing_journals();
  const auto abandoned = guarded(path_, "check for abandoned runs", [&] {
    SqlQuery query(*sql_, "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?");
    query.bind(1, host_name());
    std::vector<std::pair<std::int64_t, std::int64_t>> found;
    while (query.executeStep()) {
      if (!process_alive(query.getColumn(1).getInt64()))
        found.emplace_back(query.getColumn(0).getInt64(), query.getColumn(1).getInt64());
    }
    return found;
  });
  int closed = 0;
  for (const auto& [id, pid] : abandoned) {
    write("close abandoned run " + std::to_string(id), options_.write_attempts, [&, id = id, pid = pid] {
      // Only if still held by the same dead process: a resume may have claimed it in the meantime.
      SqlQuery update(*sql_, R"(UPDATE runs SET status = 'interrupted', ended_at = ?, error = ?
          WHERE id = ? AND status = 'running' AND pid = ? AND host = ?)");
      update.bind(1, now_utc());
      update.bind(2, "the ftrun process ended without closing the run (killed?)");
      update.bind(3, static_cast<std::int64_t>(id));
      update.bind(4, static_cast<std::int64_t>(pid));
      update.bind(5, host_name());
      closed += update.exec();
    });
    std::error_code ignored;
    fs::remove(closing_journal_path(id), ignored);  // its unused reservation
  }
  return closed;
}

}  // namespace ft
