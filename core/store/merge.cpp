// Merging stores (`ftrun merge`): the shards of a sweep run on several machines, each with its own store, become
// one store. SQLite must not be shared over a network file system, so this is how a sweep crosses machines.
//
// The source is always an SQLite file, read through its own read-only connection; the rows are written through
// this store's SqlConnection, one by one, so that the same code merges into an SQLite or a PostgreSQL store (issue
// 23) instead of relying on SQLite's ATTACH.
#include "store/results_store.h"
#include "store/schema.h"
#include "store/sql_connection.h"
#include "store/store_internals.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cmath>
#include <filesystem>
#include <map>

namespace ft {

using namespace store_internals;

namespace {

const char* const kRunColumns =
    "name, stage, group_id, parent_run_id, status, started_at, ended_at, experiment_file, config_toml, seed, device, "
    "threads, ftrun_version, torch_version, host, pid, checkpoint_path, error, task, primary_metric, primary_direction";
// Their 1-based positions in kRunColumns, rebound to this store's ids.
constexpr int kGroupColumn = 3;
constexpr int kParentColumn = 4;

const char* const kSweepColumns =
    "name, experiment_file, fingerprint, definition, overrides, method, metric, direction, max_retries, created_at";

const char* const kTrialColumns =
    "sweep_id, number, params, seed, state, run_id, attempts, host, pid, heartbeat_at, error, sampler";

// Binds a value read from the source store, keeping its SQLite type (the store has no BLOB columns).
// `reals_as_text`: a REAL going into a PostgreSQL TEXT column (run_params.value), written as ftrun writes one.
void bind_column(SqlQuery& target, int index, const SQLite::Column& column, bool reals_as_text = false) {
  switch (column.getType()) {
    case SQLITE_INTEGER: target.bind(index, column.getInt64()); break;
    case SQLITE_FLOAT:
      if (reals_as_text)
        target.bind(index, real_text(column.getDouble()));
      else
        target.bind(index, column.getDouble());
      break;
    case SQLITE_NULL: target.bind(index); break;
    default: target.bind(index, column.getString());
  }
}

// "?, ?, ?" for `count` values.
std::string placeholders(int count) {
  std::string list;
  for (int i = 0; i < count; ++i) list += i == 0 ? "?" : ", ?";
  return list;
}

// A table's columns but run_id, as the source store declares them (the same schema version as this store's).
std::vector<std::string> columns_but_run_id(SQLite::Database& source, const std::string& table) {
  std::vector<std::string> names;
  SQLite::Statement columns(source, "SELECT name FROM pragma_table_info(?) WHERE name != 'run_id' ORDER BY cid");
  columns.bind(1, table);
  while (columns.executeStep()) names.push_back(columns.getColumn(0).getString());
  return names;
}

std::string joined(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
  return list;
}

// A sweep's runs are grouped as sweep-ID; in the merged store the sweep may have another id.
std::string remapped_group(const std::string& group, const std::map<std::int64_t, std::int64_t>& sweeps) {
  const std::string prefix = "sweep-";
  if (group.rfind(prefix, 0) != 0) return group;
  try {
    const auto it = sweeps.find(std::stoll(group.substr(prefix.size())));
    return it == sweeps.end() ? group : sweep_group(it->second);
  } catch (const std::exception&) {
    return group;
  }
}

// The source store, open read-only, at this ftrun's schema version.
std::unique_ptr<SQLite::Database> open_source(const std::string& input) {
  auto source =
      guarded(input, "open it", [&] { return std::make_unique<SQLite::Database>(input, SQLite::OPEN_READONLY); });
  const int version =
      guarded(input, "read its schema version", [&] { return source->execAndGet("PRAGMA user_version").getInt(); });
  if (version != kStoreSchemaVersion) {
    throw StoreError("cannot merge " + input + ": its schema version is " + std::to_string(version) +
                     ", this store's " + std::to_string(kStoreSchemaVersion) +
                     (version < kStoreSchemaVersion ? " (open it once with this ftrun, e.g. `ftrun runs --store " +
                                                          input + "`, to upgrade it, then merge)"
                                                    : " (use the newer ftrun that wrote it)"));
  }
  return source;
}

}  // namespace

MergeReport ResultsStore::merge_from(const std::string& input) {
  std::error_code error;
  if (!std::filesystem::exists(input, error)) throw StoreError("cannot merge " + input + ": no such file");
  if (std::filesystem::equivalent(input, path_, error)) throw StoreError("cannot merge " + input + " into itself");
  const auto source = open_source(input);
  MergeReport report;
  write("merge " + input, options_.write_attempts, [&] {
    report = {};
    // Sweeps: the same fingerprint is the same sweep.
    std::map<std::int64_t, std::int64_t> sweeps;
    SQLite::Statement source_sweeps(*source, std::string("SELECT id, ") + kSweepColumns + " FROM sweeps ORDER BY id");
    while (source_sweeps.executeStep()) {
      const std::int64_t old_id = source_sweeps.getColumn(0).getInt64();
      SqlQuery find(*sql_, "SELECT id FROM sweeps WHERE fingerprint = ?");
      find.bind(1, source_sweeps.getColumn(3).getString());
      if (find.executeStep()) {
        sweeps[old_id] = find.getColumn(0).getInt64();
        continue;
      }
      SqlQuery copy(*sql_, std::string("INSERT INTO sweeps (") + kSweepColumns + ") VALUES (" + placeholders(10) +
                               ") RETURNING id");
      for (int i = 1; i <= 10; ++i) bind_column(copy, i, source_sweeps.getColumn(i));
      copy.executeStep();
      sweeps[old_id] = copy.getColumn(0).getInt64();
      ++report.sweeps;
    }

    // Runs, in order (a run's parent comes before it), unless the same run is already here: same start, host,
    // process, name, stage and seed.
    std::map<std::int64_t, std::int64_t> runs;
    SQLite::Statement source_runs(*source, std::string("SELECT id, ") + kRunColumns + " FROM runs ORDER BY id");
    while (source_runs.executeStep()) {
      const std::int64_t old_id = source_runs.getColumn(0).getInt64();
      SqlQuery same(*sql_, R"(SELECT id FROM runs WHERE started_at = ? AND host = ? AND pid = ? AND
          name = ? AND stage = ? AND seed = ?)");
      int index = 1;
      for (const char* column : {"started_at", "host", "pid", "name", "stage", "seed"})
        bind_column(same, index++, source_runs.getColumn(column));
      if (same.executeStep()) {
        runs[old_id] = same.getColumn(0).getInt64();
        ++report.runs_already_there;
        continue;
      }
      SqlQuery copy(
          *sql_, std::string("INSERT INTO runs (") + kRunColumns + ") VALUES (" + placeholders(21) + ") RETURNING id");
      for (int i = 1; i <= 21; ++i) bind_column(copy, i, source_runs.getColumn(i));
      copy.bind(kGroupColumn, remapped_group(source_runs.getColumn("group_id").getString(), sweeps));
      const auto parent = source_runs.getColumn("parent_run_id");
      if (!parent.isNull() && runs.count(parent.getInt64()))
        copy.bind(kParentColumn, runs[parent.getInt64()]);
      else
        copy.bind(kParentColumn);
      copy.executeStep();
      const std::int64_t new_id = copy.getColumn(0).getInt64();
      copy.reset();
      runs[old_id] = new_id;
      const bool text_params = parameters_are_text(*sql_);
      for (const char* table : {"run_params", "run_plugins"}) {
        const auto columns = columns_but_run_id(*source, table);
        SQLite::Statement rows(*source, "SELECT " + joined(columns) + " FROM " + table + " WHERE run_id = ?");
        rows.bind(1, old_id);
        SqlQuery insert(*sql_, std::string("INSERT INTO ") + table + " (run_id, " + joined(columns) + ") VALUES (?, " +
                                   placeholders(static_cast<int>(columns.size())) + ")");
        while (rows.executeStep()) {
          insert.bind(1, new_id);
          for (int i = 0; i < static_cast<int>(columns.size()); ++i)
            bind_column(insert, i + 2, rows.getColumn(i), text_params && std::string(table) == "run_params");
          insert.exec();
          insert.reset();
        }
      }
      // Metrics as the store records them (many rows per statement), in the order they were recorded: their
      // triggers fill epoch_metrics as the rows arrive. NULL is a NaN, and is written back as NULL.
      SQLite::Statement metrics(*source,
                                "SELECT scope, epoch, step, name, value FROM metrics WHERE run_id = ? ORDER BY rowid");
      metrics.bind(1, old_id);
      std::vector<MetricRow> rows;
      while (metrics.executeStep()) {
        rows.push_back({metrics.getColumn(0).getString(), metrics.getColumn(1).getInt64(),
                        metrics.getColumn(2).getInt64(), metrics.getColumn(3).getString(),
                        metrics.getColumn(4).isNull() ? std::nan("") : metrics.getColumn(4).getDouble()});
      }
      insert_metrics(new_id, rows);
      ++report.runs;
    }

    // Trials: a finished trial replaces one this store only has waiting or running (another shard's).
    SQLite::Statement source_trials(*source,
                                    std::string("SELECT ") + kTrialColumns + " FROM trials ORDER BY sweep_id, number");
    while (source_trials.executeStep()) {
      const std::int64_t sweep = sweeps.at(source_trials.getColumn(0).getInt64());
      const std::int64_t number = source_trials.getColumn(1).getInt64();
      const std::string state = source_trials.getColumn(4).getString();
      SqlQuery existing(*sql_, "SELECT state FROM trials WHERE sweep_id = ? AND number = ?");
      existing.bind(1, sweep);
      existing.bind(2, number);
      const bool present = existing.executeStep();
      const std::string here = present ? existing.getColumn(0).getString() : "";
      existing.reset();
      const bool finished = state == "completed" || state == "pruned" || state == "failed";
      if (present && (!finished || (here != "waiting" && here != "running"))) continue;
      SqlQuery put(*sql_, std::string("INSERT INTO trials (") + kTrialColumns + ") VALUES (" + placeholders(12) +
                              R"() ON CONFLICT (sweep_id, number) DO UPDATE SET params = excluded.params,
          seed = excluded.seed, state = excluded.state, run_id = excluded.run_id, attempts = excluded.attempts,
          host = excluded.host, pid = excluded.pid, heartbeat_at = excluded.heartbeat_at, error = excluded.error,
          sampler = excluded.sampler)");
      for (int i = 0; i < 12; ++i) bind_column(put, i + 1, source_trials.getColumn(i));
      put.bind(1, sweep);
      const auto run = source_trials.getColumn(5);
      if (!run.isNull() && runs.count(run.getInt64()))
        put.bind(6, runs[run.getInt64()]);
      else
        put.bind(6);
      put.exec();
      ++report.trials;
    }
  });
  return report;
}

}  // namespace ft
