#include "store/results_store.h"

#include "store/store_internals.h"

#include "log/log.h"
#include "store/schema.h"

#include <ftsdk/error.h>
#include <ftsdk/version.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <thread>

namespace fs = std::filesystem;

namespace ft {

using namespace store_internals;

namespace {

void bind_value(SQLite::Statement& statement, int index, const ParamValue& value) {
  if (auto* b = std::get_if<bool>(&value.data)) {
    statement.bind(index, *b ? 1 : 0);
  } else if (auto* i = std::get_if<std::int64_t>(&value.data)) {
    statement.bind(index, static_cast<std::int64_t>(*i));
  } else if (auto* d = std::get_if<double>(&value.data)) {
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

void bind_metric_value(SQLite::Statement& statement, int index, double value) {
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

std::string resolve_store_path(const std::string& from_command_line, const std::string& from_experiment) {
  if (!from_command_line.empty()) return from_command_line;
  if (!from_experiment.empty()) return from_experiment;
  if (const char* env = std::getenv("FTRUN_STORE"); env && *env) return env;
  return "results/ftrun.db";
}

StoreOptions store_options_from_environment() {
  StoreOptions options;
  if (const char* env = std::getenv("FTRUN_STORE_TIMEOUT"); env && *env) {
    char* end = nullptr;
    const double seconds = std::strtod(env, &end);
    if (end == env || *end != '\0' || !(seconds >= 0) || seconds > 86400) {
      throw ConfigError(std::string("$FTRUN_STORE_TIMEOUT: expected seconds between 0 and 86400, got \"") + env + "\"");
    }
    options.busy_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  }
  return options;
}

ResultsStore::ResultsStore(const std::string& path, StoreOptions options) : path_(path), options_(options) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    fs::create_directories(parent, error);
    if (error) {
      throw StoreError("results store " + path + ": cannot create the folder " + parent.string() + ": " +
                       error.message() + " (choose another path with --store or [experiment] store)");
    }
  }
  if (fs::is_directory(path)) {
    throw StoreError("results store " + path + " is a folder; give the path of a database file, e.g. " +
                     (fs::path(path) / "ftrun.db").string());
  }
  open_and_upgrade();
}

void ResultsStore::open_and_upgrade() {
  // A new store is switched to WAL by whichever process opens it first. While one process does that, SQLite can
  // answer another's first statements with SQLITE_BUSY at once, busy timeout or not (8 processes opening one new
  // store together failed this way about one time in two), so opening is retried until the busy timeout.
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    try {
      db_ = std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      // Several ftrun processes (sweeps, concurrent runs, a query while training) share one store: writers wait
      // for each other's locks, and readers proceed while a run writes (WAL).
      db_->setBusyTimeout(static_cast<int>(options_.busy_timeout.count()));
      // Reading the version first checks that the file is a database at all, before anything is written to it.
      db_->execAndGet("PRAGMA user_version");
      if (db_->execAndGet("PRAGMA journal_mode").getString() != "wal") db_->exec("PRAGMA journal_mode = WAL");
      break;
    } catch (const SQLite::Exception& error) {
      const bool busy = (error.getErrorCode() & 0xff) == SQLITE_BUSY || (error.getErrorCode() & 0xff) == SQLITE_LOCKED;
      if (!busy || std::chrono::steady_clock::now() - start > options_.busy_timeout) {
        throw store_error(path_, "open it", error);
      }
      db_.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  const int seen =
      guarded(path_, "read its schema version", [&] { return db_->execAndGet("PRAGMA user_version").getInt(); });
  if (seen > kStoreSchemaVersion) {
    throw StoreError("results store " + path_ + " has schema version " + std::to_string(seen) +
                     ", newer than this ftrun understands (" + std::to_string(kStoreSchemaVersion) +
                     "): use a newer ftrun or another store");
  }
  if (seen == kStoreSchemaVersion) {
    guarded(path_, "open it", [&] { db_->exec("PRAGMA foreign_keys = ON"); });
    return;
  }
  const std::string backup = seen > 0 ? back_up_before_upgrade(seen) : std::string();
  // Creating or upgrading the schema is a write: take the write lock first (BEGIN IMMEDIATE), so that
  // processes opening a new store at the same moment wait for each other instead of failing, then decide from
  // the version seen under the lock. Each numbered migration is one transaction, so a store is always at one
  // version or the next, never between. Foreign keys stay off while tables are rebuilt.
  guarded(path_, "open it", [&] { db_->exec("PRAGMA foreign_keys = OFF"); });
  for (bool done = false; !done;) {
    std::string applied;
    write("create or upgrade its schema", options_.write_attempts, [&] {
      const int version = db_->execAndGet("PRAGMA user_version").getInt();
      int next = kStoreSchemaVersion;
      if (version > 0 && version < kStoreSchemaVersion) {
        const StoreMigration& migration = store_migrations().at(static_cast<std::size_t>(version - 1));
        db_->exec(migration.sql);
        next = migration.from + 1;
        applied = "results store " + path_ + ": schema " + std::to_string(version) + " -> " + std::to_string(next) +
                  ": " + migration.what;
      }
      if (next == kStoreSchemaVersion) db_->exec(store_schema_sql());
      db_->exec("PRAGMA user_version = " + std::to_string(next));
      SQLite::Statement check(*db_, "PRAGMA foreign_key_check");
      if (check.executeStep()) throw StoreError("results store " + path_ + ": the upgrade found broken references");
      done = next == kStoreSchemaVersion;
    });
    if (!applied.empty()) log::info(applied);
  }
  if (!backup.empty()) {
    log::info("results store " + path_ + ": schema version " + std::to_string(seen) + " upgraded to " +
              std::to_string(kStoreSchemaVersion) + "; the store as it was is kept in " + backup);
  }
  guarded(path_, "open it", [&] { db_->exec("PRAGMA foreign_keys = ON"); });
}

// A copy of the store as it was, before an upgrade rewrites its tables: `ftrun.db` → `ftrun.db.v1.bak`.
// VACUUM INTO writes a consistent snapshot while other processes keep reading; when several processes upgrade
// at once, the first one's copy is kept (VACUUM INTO refuses to overwrite).
std::string ResultsStore::back_up_before_upgrade(int version) {
  const std::string backup = path_ + ".v" + std::to_string(version) + ".bak";
  std::error_code error;
  if (fs::exists(backup, error)) return backup;
  try {
    SQLite::Statement vacuum(*db_, "VACUUM INTO ?");
    vacuum.bind(1, backup);
    vacuum.exec();
  } catch (const SQLite::Exception& e) {
    if (fs::exists(backup, error)) return backup;  // another process made it first
    throw store_error(
        path_, "back it up to " + backup + " before upgrading its schema from version " + std::to_string(version), e);
  }
  return backup;
}

void ResultsStore::ResetStatement::operator()(SQLite::Statement* statement) const {
  statement->reset();
  statement->clearBindings();
}

auto ResultsStore::prepared(const std::string& sql) const -> std::unique_ptr<SQLite::Statement, ResetStatement> {
  auto& statement = statements_[sql];
  if (!statement) statement = std::make_unique<SQLite::Statement>(*db_, sql);
  return std::unique_ptr<SQLite::Statement, ResetStatement>(statement.get());
}

ResultsStore::~ResultsStore() = default;

std::string ResultsStore::checkpoint_dir() const {
  return fs::absolute(fs::path(path_)).lexically_normal().string() + "-checkpoints";
}

std::int64_t ResultsStore::begin_run(const NewRun& run) {
  std::int64_t id = 0;
  write("record the new run", options_.write_attempts, [&] {
    SQLite::Statement insert(*db_, R"(INSERT INTO runs
        (name, stage, group_id, parent_run_id, status, started_at, experiment_file, config_toml, seed, device,
         threads, ftrun_version, torch_version, host, pid, task, primary_metric, primary_direction)
        VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?))");
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
    insert.exec();
    id = db_->getLastInsertRowid();

    SQLite::Statement param(*db_, "INSERT OR REPLACE INTO run_params (run_id, key, value) VALUES (?, ?, ?)");
    for (const auto& [key, value] : run.params) {
      param.bind(1, static_cast<std::int64_t>(id));
      param.bind(2, key);
      bind_value(param, 3, value);
      param.exec();
      param.reset();
    }
    SQLite::Statement plugin(*db_, R"(INSERT INTO run_plugins
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
  return id;
}

namespace {

void insert_metrics(SQLite::Database& db, std::int64_t run_id, const std::vector<MetricRow>& rows) {
  SQLite::Statement insert(db,
                           "INSERT INTO metrics (run_id, scope, epoch, step, name, value) VALUES (?, ?, ?, ?, ?, ?)");
  for (const auto& row : rows) {
    insert.bind(1, static_cast<std::int64_t>(run_id));
    insert.bind(2, row.scope);
    insert.bind(3, static_cast<std::int64_t>(row.epoch));
    insert.bind(4, static_cast<std::int64_t>(row.step));
    insert.bind(5, row.name);
    bind_metric_value(insert, 6, row.value);
    insert.exec();
    insert.reset();
  }
}

}  // namespace

void ResultsStore::log_metrics(std::int64_t run_id, const std::vector<MetricRow>& rows) {
  if (rows.empty()) return;
  write("record metrics", options_.write_attempts, [&] { insert_metrics(*db_, run_id, rows); });
}

void ResultsStore::set_checkpoint(std::int64_t run_id, const std::string& path) {
  write("record the checkpoint", options_.write_attempts, [&] {
    SQLite::Statement update(*db_, "UPDATE runs SET checkpoint_path = ? WHERE id = ?");
    update.bind(1, fs::absolute(path).lexically_normal().string());
    update.bind(2, static_cast<std::int64_t>(run_id));
    update.exec();
  });
}

void ResultsStore::finish_run(std::int64_t run_id, RunStatus status, const std::string& error,
                              const std::vector<MetricRow>& unsaved) {
  write("close run " + std::to_string(run_id), 3 * options_.write_attempts, [&] {
    insert_metrics(*db_, run_id, unsaved);
    SQLite::Statement update(*db_, "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?");
    update.bind(1, to_string(status));
    update.bind(2, now_utc());
    if (error.empty())
      update.bind(3);
    else
      update.bind(3, error);
    update.bind(4, static_cast<std::int64_t>(run_id));
    update.exec();
  });
}

bool ResultsStore::claim_for_resume(std::int64_t run_id, std::int64_t epoch) {
  bool claimed = false;
  write("claim run " + std::to_string(run_id) + " for resuming", options_.write_attempts, [&] {
    // The status test and the update are one statement inside a write transaction: of two processes resuming
    // the same run, exactly one sees a resumable status.
    SQLite::Statement update(*db_, R"(UPDATE runs SET status = 'running', ended_at = NULL, error = NULL, host = ?,
        pid = ? WHERE id = ? AND status IN ('interrupted', 'failed', 'diverged'))");
    update.bind(1, host_name());
    update.bind(2, static_cast<std::int64_t>(::getpid()));
    update.bind(3, static_cast<std::int64_t>(run_id));
    claimed = update.exec() == 1;
    if (!claimed) return;
    SQLite::Statement drop(*db_, "DELETE FROM metrics WHERE run_id = ? AND epoch > ?");
    drop.bind(1, static_cast<std::int64_t>(run_id));
    drop.bind(2, static_cast<std::int64_t>(epoch));
    drop.exec();
  });
  return claimed;
}

std::optional<ResultsStore::StoredRun> ResultsStore::find_run(std::int64_t run_id) const {
  return guarded(path_, "read a run", [&]() -> std::optional<StoredRun> {
    SQLite::Statement query(*db_, "SELECT name, status, config_toml FROM runs WHERE id = ?");
    query.bind(1, static_cast<std::int64_t>(run_id));
    if (!query.executeStep()) return std::nullopt;
    return StoredRun{query.getColumn(0).getString(), query.getColumn(1).getString(), query.getColumn(2).getString()};
  });
}

std::vector<RunSummary> ResultsStore::list_runs(const RunFilter& filter) const {
  return guarded(path_, "list runs", [&] {
    std::string sql = R"(SELECT s.id, s.name, s.stage, s.group_id, s.status, s.started_at, s.best_val_accuracy,
        s.best_val_loss, s.test_accuracy, COALESCE(s.epochs, 0), s.seed,
        (SELECT group_concat(key || '=' || value, ' ') FROM run_params p WHERE p.run_id = s.id AND p.key IN
          ('optimizer.type', 'optimizer.lr', 'backbone.lr_mult', 'backbone.weights', 'optimizer.weight_decay')),
        s.primary_metric, s.primary_direction, s.best_val_primary, s.test_primary
        FROM run_summary s WHERE 1 = 1)";
    if (filter.id) sql += " AND s.id = :id";
    if (filter.name) sql += " AND s.name = :name";
    if (filter.group_id) sql += " AND s.group_id = :group";
    if (filter.status) sql += " AND s.status = :status";
    if (filter.where) sql += " AND (" + filter.where->sql + ")";
    sql += " ORDER BY " + (filter.order_by ? filter.order_by->sql + ", s.id DESC" : std::string("s.id DESC"));
    sql += " LIMIT :limit";
    SQLite::Statement query(*db_, sql);
    for (const auto* fragment : {&filter.where, &filter.order_by}) {
      if (!*fragment) continue;
      const std::string prefix = fragment == &filter.where ? ":w" : ":o";
      for (std::size_t i = 0; i < (*fragment)->values.size(); ++i) {
        const auto& value = (*fragment)->values[i];
        if (const auto* number = std::get_if<double>(&value))
          query.bind(prefix + std::to_string(i), *number);
        else
          query.bind(prefix + std::to_string(i), std::get<std::string>(value));
      }
    }
    if (filter.id) query.bind(":id", *filter.id);
    if (filter.name) query.bind(":name", *filter.name);
    if (filter.group_id) query.bind(":group", *filter.group_id);
    if (filter.status) query.bind(":status", *filter.status);
    query.bind(":limit", static_cast<std::int64_t>(filter.limit));
    std::vector<RunSummary> runs;
    while (query.executeStep()) {
      RunSummary run;
      run.id = query.getColumn(0).getInt64();
      run.name = query.getColumn(1).getString();
      run.stage = query.getColumn(2).getString();
      run.group_id = query.getColumn(3).getString();
      run.status = query.getColumn(4).getString();
      run.started_at = query.getColumn(5).getString();
      run.best_val_accuracy = optional_real(query, 6);
      run.best_val_loss = optional_real(query, 7);
      run.test_accuracy = optional_real(query, 8);
      run.epochs = query.getColumn(9).getInt64();
      run.seed = query.getColumn(10).getInt64();
      run.key_params = query.getColumn(11).getString();
      run.primary_metric = query.getColumn(12).getString();
      run.primary_direction = query.getColumn(13).getString();
      run.best_val_primary = optional_real(query, 14);
      run.test_primary = optional_real(query, 15);
      runs.push_back(run);
    }
    return runs;
  });
}

std::optional<std::string> ResultsStore::status_of(std::int64_t run_id) const {
  return guarded(path_, "read a run", [&]() -> std::optional<std::string> {
    SQLite::Statement query(*db_, "SELECT status FROM runs WHERE id = ?");
    query.bind(1, static_cast<std::int64_t>(run_id));
    if (!query.executeStep()) return std::nullopt;
    return query.getColumn(0).getString();
  });
}

std::vector<EpochRow> ResultsStore::epochs_of(std::int64_t run_id) const {
  return guarded(path_, "read the run's epochs", [&] {
    auto query = prepared(R"(SELECT epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, train_primary,
        val_primary FROM epoch_metrics WHERE run_id = ? ORDER BY epoch)");
    query->bind(1, static_cast<std::int64_t>(run_id));
    std::vector<EpochRow> rows;
    while (query->executeStep()) {
      rows.push_back({query->getColumn(0).getInt64(), real_or_nan(*query, 1), real_or_nan(*query, 2),
                      real_or_nan(*query, 3), real_or_nan(*query, 4), real_or_nan(*query, 5), real_or_nan(*query, 6),
                      real_or_nan(*query, 7)});
    }
    return rows;
  });
}

std::vector<RunOutcome> ResultsStore::outcomes_by(const std::string& key, const std::optional<std::string>& name,
                                                  const std::optional<std::string>& stage,
                                                  const std::optional<std::string>& group) const {
  return guarded(path_, "compare runs", [&] {
    // A parameter's value as text (1e-3 and 0.001 are the same REAL, so they group together); for lr/<group>, the
    // highest rate the group was given (its base rate: warm-up and decay only lower it).
    const bool group_rate = key.rfind("lr/", 0) == 0;
    // The per-epoch rows (one per group and epoch, ftrun 0.1 after 2026-11-30) are read first: a run's step rows
    // are a hundred times as many, and runs recorded before hold only those.
    std::string sql = group_rate ? R"(SELECT * FROM (SELECT s.id, s.stage, s.status, CAST(COALESCE(
          (SELECT MAX(value) FROM metrics m WHERE m.run_id = s.id AND m.scope = 'epoch' AND m.name = :key),
          (SELECT MAX(value) FROM metrics m WHERE m.run_id = s.id AND m.scope = 'step' AND m.name = :key)) AS TEXT)
          AS value, s.best_val_primary, s.final_val_primary, s.name, s.group_id, s.primary_metric,
          s.primary_direction FROM run_summary s) s
        WHERE s.value IS NOT NULL)"
                                 : R"(SELECT s.id, s.stage, s.status, CAST(p.value AS TEXT), s.best_val_primary,
        s.final_val_primary, s.name, s.group_id, s.primary_metric, s.primary_direction FROM run_summary s
        JOIN run_params p ON p.run_id = s.id AND p.key = :key WHERE 1 = 1)";
    if (name) sql += " AND s.name = :name";
    if (stage) sql += " AND s.stage = :stage";
    if (group) sql += " AND s.group_id = :group";
    sql += " ORDER BY s.id";
    SQLite::Statement query(*db_, sql);
    query.bind(":key", key);
    if (name) query.bind(":name", *name);
    if (stage) query.bind(":stage", *stage);
    if (group) query.bind(":group", *group);
    std::vector<RunOutcome> runs;
    while (query.executeStep()) {
      runs.push_back({query.getColumn(0).getInt64(), query.getColumn(1).getString(), query.getColumn(2).getString(),
                      query.getColumn(3).getString(), optional_real(query, 4), optional_real(query, 5),
                      query.getColumn(8).getString(), query.getColumn(9).getString() != "min"});
    }
    return runs;
  });
}

std::vector<ValidationRise> ResultsStore::validation_rises_of(std::int64_t run_id) const {
  return guarded(path_, "read the run's validation rises", [&] {
    auto query = prepared(R"(SELECT first_epoch, last_epoch, evaluations, best_val_loss, worst_val_loss,
        train_loss_before, lowest_train_loss, recovered FROM ()" +
                          validation_rises_of_run_sql() + ") ORDER BY first_epoch");
    query->bind(":run", static_cast<std::int64_t>(run_id));
    std::vector<ValidationRise> rises;
    while (query->executeStep()) {
      rises.push_back({query->getColumn(0).getInt64(), query->getColumn(1).getInt64(), query->getColumn(2).getInt64(),
                       real_or_nan(*query, 3), real_or_nan(*query, 4), real_or_nan(*query, 5), real_or_nan(*query, 6),
                       query->getColumn(7).getInt() != 0});
    }
    return rises;
  });
}

std::vector<std::pair<std::string, std::string>> ResultsStore::params_of(std::int64_t run_id) const {
  return guarded(path_, "read a run's parameters", [&] {
    SQLite::Statement query(*db_, "SELECT key, CAST(value AS TEXT) FROM run_params WHERE run_id = ? ORDER BY key");
    query.bind(1, static_cast<std::int64_t>(run_id));
    std::vector<std::pair<std::string, std::string>> params;
    while (query.executeStep()) params.emplace_back(query.getColumn(0).getString(), query.getColumn(1).getString());
    return params;
  });
}

std::vector<MetricRow> ResultsStore::metrics_of(std::int64_t run_id) const {
  return guarded(path_, "read a run's metrics", [&] {
    SQLite::Statement query(*db_,
                            "SELECT scope, epoch, step, name, value FROM metrics WHERE run_id = ? ORDER BY rowid");
    query.bind(1, static_cast<std::int64_t>(run_id));
    std::vector<MetricRow> rows;
    while (query.executeStep()) {
      rows.push_back({query.getColumn(0).getString(), query.getColumn(1).getInt64(), query.getColumn(2).getInt64(),
                      query.getColumn(3).getString(), real_or_nan(query, 4)});
    }
    return rows;
  });
}

std::optional<std::string> ResultsStore::param_of(std::int64_t run_id, const std::string& key) const {
  return guarded(path_, "read a run's parameter", [&]() -> std::optional<std::string> {
    auto query = prepared("SELECT CAST(value AS TEXT) FROM run_params WHERE run_id = ? AND key = ?");
    query->bind(1, static_cast<std::int64_t>(run_id));
    query->bind(2, key);
    if (!query->executeStep() || query->getColumn(0).isNull()) return std::nullopt;
    return query->getColumn(0).getString();
  });
}

std::optional<std::string> ResultsStore::checkpoint_of(std::int64_t run_id) const {
  const auto recorded = guarded(path_, "read a run", [&]() -> std::optional<std::string> {
    SQLite::Statement query(*db_, "SELECT checkpoint_path FROM runs WHERE id = ?");
    query.bind(1, static_cast<std::int64_t>(run_id));
    if (!query.executeStep() || query.getColumn(0).isNull()) return std::nullopt;
    return query.getColumn(0).getString();
  });
  if (!recorded) return std::nullopt;
  std::error_code error;
  const fs::path path(*recorded);
  // Only this store's own folder is looked in: a relative path or a file elsewhere could be another store's.
  const fs::path own = fs::path(checkpoint_dir()) / ("run-" + std::to_string(run_id)) / path.filename();
  if (path.is_absolute() && fs::is_regular_file(path, error)) return path.string();
  if (fs::is_regular_file(own, error)) return own.string();  // the store and its folder were moved together
  throw DataError("run " + std::to_string(run_id) + " in " + path_ + ": its checkpoint " + *recorded +
                  " is missing (expected it there or at " + own.string() +
                  "); was the checkpoint folder moved or deleted?");
}

int ResultsStore::close_abandoned_runs() {
  const auto abandoned = guarded(path_, "check for abandoned runs", [&] {
    SQLite::Statement query(*db_, "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?");
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
      SQLite::Statement update(*db_, R"(UPDATE runs SET status = 'interrupted', ended_at = ?, error = ?
          WHERE id = ? AND status = 'running' AND pid = ? AND host = ?)");
      update.bind(1, now_utc());
      update.bind(2, "the ftrun process ended without closing the run (killed?)");
      update.bind(3, static_cast<std::int64_t>(id));
      update.bind(4, static_cast<std::int64_t>(pid));
      update.bind(5, host_name());
      closed += update.exec();
    });
  }
  return closed;
}

}  // namespace ft
