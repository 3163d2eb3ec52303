// Merging stores (`ftrun merge`): the shards of a sweep run on several machines, each with its own store, become
// one store. SQLite must not be shared over a network file system, so this is how a sweep crosses machines.
#include "store/results_store.h"
#include "store/schema.h"
#include "store/store_internals.h"

#include <filesystem>
#include <map>

namespace ft {

using namespace store_internals;

namespace {

const char* const kRunColumns =
    "name, stage, group_id, parent_run_id, status, started_at, ended_at, experiment_file, config_toml, seed, device, "
    "threads, ftrun_version, torch_version, host, pid, checkpoint_path, error, task, primary_metric, primary_direction";

// Binds a value read from another statement, whatever its SQLite type.
void bind_column(SQLite::Statement& statement, int index, const SQLite::Column& column) {
  switch (column.getType()) {
    case SQLITE_INTEGER: statement.bind(index, column.getInt64()); break;
    case SQLITE_FLOAT: statement.bind(index, column.getDouble()); break;
    case SQLITE_TEXT: statement.bind(index, column.getString()); break;
    case SQLITE_BLOB: statement.bind(index, column.getBlob(), column.getBytes()); break;
    default: statement.bind(index);
  }
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

}  // namespace

MergeReport ResultsStore::merge_from(const std::string& input) {
  std::error_code error;
  if (!std::filesystem::exists(input, error)) throw StoreError("cannot merge " + input + ": no such file");
  if (std::filesystem::equivalent(input, path_, error)) throw StoreError("cannot merge " + input + " into itself");
  {
    SQLite::Database source(input, SQLite::OPEN_READONLY);
    const int version =
        guarded(input, "read its schema version", [&] { return source.execAndGet("PRAGMA user_version").getInt(); });
    if (version != kStoreSchemaVersion) {
      throw StoreError("cannot merge " + input + ": its schema version is " + std::to_string(version) +
                       ", this store's " + std::to_string(kStoreSchemaVersion) +
                       (version < kStoreSchemaVersion ? " (open it once with this ftrun, e.g. `ftrun runs --store " +
                                                            input + "`, to upgrade it, then merge)"
                                                      : " (use the newer ftrun that wrote it)"));
    }
  }
  MergeReport report;
  guarded(path_, "attach " + input, [&] {
    SQLite::Statement attach(*db_, "ATTACH DATABASE ? AS source");
    attach.bind(1, input);
    attach.exec();
  });
  struct Detach {
    SQLite::Database& db;
    ~Detach() {
      try {
        db.exec("DETACH DATABASE source");
      } catch (const SQLite::Exception&) {
      }
    }
  } detach{*db_};
  write("merge " + input, options_.write_attempts, [&] {
    report = {};
    // Sweeps: the same fingerprint is the same sweep.
    std::map<std::int64_t, std::int64_t> sweeps;
    SQLite::Statement source_sweeps(*db_, "SELECT id, fingerprint FROM source.sweeps ORDER BY id");
    while (source_sweeps.executeStep()) {
      const std::int64_t old_id = source_sweeps.getColumn(0).getInt64();
      SQLite::Statement find(*db_, "SELECT id FROM main.sweeps WHERE fingerprint = ?");
      find.bind(1, source_sweeps.getColumn(1).getString());
      if (find.executeStep()) {
        sweeps[old_id] = find.getColumn(0).getInt64();
        continue;
      }
      SQLite::Statement copy(*db_,
                             R"(INSERT INTO main.sweeps (name, experiment_file, fingerprint, definition, overrides,
          method, metric, direction, max_retries, created_at) SELECT name, experiment_file, fingerprint, definition,
          overrides, method, metric, direction, max_retries, created_at FROM source.sweeps WHERE id = ?)");
      copy.bind(1, old_id);
      copy.exec();
      sweeps[old_id] = db_->getLastInsertRowid();
      ++report.sweeps;
    }

    // Runs, in order (a run's parent comes before it), unless the same run is already here: same start, host,
    // process, name, stage and seed.
    std::map<std::int64_t, std::int64_t> runs;
    SQLite::Statement source_runs(*db_, R"(SELECT id, group_id, parent_run_id, started_at, host, pid, name, stage, seed
        FROM source.runs ORDER BY id)");
    while (source_runs.executeStep()) {
      const std::int64_t old_id = source_runs.getColumn(0).getInt64();
      SQLite::Statement same(*db_, R"(SELECT id FROM main.runs WHERE started_at = ? AND host = ? AND pid = ? AND
          name = ? AND stage = ? AND seed = ?)");
      for (int i = 0; i < 6; ++i) bind_column(same, i + 1, source_runs.getColumn(3 + i));
      if (same.executeStep()) {
        runs[old_id] = same.getColumn(0).getInt64();
        ++report.runs_already_there;
        continue;
      }
      SQLite::Statement copy(*db_, std::string("INSERT INTO main.runs (") + kRunColumns + ") SELECT " + kRunColumns +
                                       " FROM source.runs WHERE id = ?");
      copy.bind(1, old_id);
      copy.exec();
      const std::int64_t new_id = db_->getLastInsertRowid();
      runs[old_id] = new_id;
      SQLite::Statement fix(*db_, "UPDATE main.runs SET group_id = ?, parent_run_id = ? WHERE id = ?");
      fix.bind(1, remapped_group(source_runs.getColumn(1).getString(), sweeps));
      const auto parent = source_runs.getColumn(2);
      if (!parent.isNull() && runs.count(parent.getInt64()))
        fix.bind(2, runs[parent.getInt64()]);
      else
        fix.bind(2);
      fix.bind(3, new_id);
      fix.exec();
      for (const char* table : {"run_params", "run_plugins", "metrics"}) {
        // metrics' triggers fill epoch_metrics as the rows arrive.
        SQLite::Statement columns(*db_, std::string("SELECT group_concat(name, ', ') FROM pragma_table_info('") +
                                            table + "') WHERE name != 'run_id'");
        columns.executeStep();
        const std::string list = columns.getColumn(0).getString();
        SQLite::Statement rows(*db_, std::string("INSERT INTO main.") + table + " (run_id, " + list + ") SELECT ?, " +
                                         list + " FROM source." + table + " WHERE run_id = ?" +
                                         (std::string(table) == "metrics" ? " ORDER BY rowid" : ""));
        rows.bind(1, new_id);
        rows.bind(2, old_id);
        rows.exec();
      }
      ++report.runs;
    }

    // Trials: a finished trial replaces one this store only has waiting or running (another shard's).
    SQLite::Statement source_trials(*db_, R"(SELECT sweep_id, number, params, seed, state, run_id, attempts, host, pid,
        heartbeat_at, error, sampler FROM source.trials ORDER BY sweep_id, number)");
    while (source_trials.executeStep()) {
      const std::int64_t sweep = sweeps.at(source_trials.getColumn(0).getInt64());
      const std::int64_t number = source_trials.getColumn(1).getInt64();
      const std::string state = source_trials.getColumn(4).getString();
      SQLite::Statement existing(*db_, "SELECT state FROM main.trials WHERE sweep_id = ? AND number = ?");
      existing.bind(1, sweep);
      existing.bind(2, number);
      const bool present = existing.executeStep();
      const std::string here = present ? existing.getColumn(0).getString() : "";
      const bool finished = state == "completed" || state == "pruned" || state == "failed";
      if (present && (!finished || (here != "waiting" && here != "running"))) continue;
      SQLite::Statement put(*db_, R"(INSERT OR REPLACE INTO main.trials (sweep_id, number, params, seed, state, run_id,
          attempts, host, pid, heartbeat_at, error, sampler) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))");
      put.bind(1, sweep);
      put.bind(2, number);
      for (int i = 2; i <= 11; ++i) bind_column(put, i + 1, source_trials.getColumn(i));
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
