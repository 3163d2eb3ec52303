// Opening a store: the file and its folder, WAL, the schema created or upgraded one numbered migration at a time,
// and files that are not ftrun's stores refused before anything is written.
#include "store/results_store.h"

#include "store/postgres_connection.h"
#include "store/sqlite_connection.h"

#include "store/store_internals.h"

#include "log/log.h"
#include "store/schema.h"

#include <ftsdk/error.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>
#include <thread>

namespace fs = std::filesystem;

namespace ft {

using namespace store_internals;

std::string resolve_store_path(const std::string& from_command_line, const std::string& from_experiment) {
  if (!from_command_line.empty()) return from_command_line;
  if (!from_experiment.empty()) return from_experiment;
  if (const char* env = std::getenv("FTRUN_STORE"); env && *env) return env;
  return "results/ftrun.db";
}

namespace {

// Seconds from environment variable `name`, between 0 and `most`, or nothing when it is not set.
std::optional<double> seconds_from_environment(const char* name, double most) {
  const char* env = std::getenv(name);
  if (env == nullptr || *env == '\0') return std::nullopt;
  char* end = nullptr;
  const double seconds = std::strtod(env, &end);
  if (end == env || *end != '\0' || !(seconds >= 0) || seconds > most) {
    char range[32];
    std::snprintf(range, sizeof range, "%g", most);
    throw ConfigError(std::string("$") + name + ": expected seconds between 0 and " + range + ", got \"" + env + "\"");
  }
  return seconds;
}

}  // namespace

StoreOptions store_options_from_environment() {
  StoreOptions options;
  if (const auto seconds = seconds_from_environment("FTRUN_STORE_TIMEOUT", 86400)) {
    options.busy_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(*seconds * 1000));
  }
  if (const auto seconds = seconds_from_environment("FTRUN_STORE_OUTAGE", 7 * 86400)) {
    options.outage_limit = std::chrono::seconds(static_cast<std::int64_t>(*seconds));
  }
  if (const auto seconds = seconds_from_environment("FTRUN_TRIAL_STALE", 7 * 86400)) {
    options.trial_stale = std::chrono::seconds(std::max<std::int64_t>(2, static_cast<std::int64_t>(*seconds)));
  }
  if (const char* env = std::getenv("FTRUN_CHECKPOINT_DIR"); env && *env) options.checkpoint_dir = env;
  return options;
}

ResultsStore::ResultsStore(const std::string& path, StoreOptions options) : path_(path), options_(options) {
  if (is_postgres_url(path)) {
    open_postgres();
    return;
  }
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
  const auto give_up_unless_busy = [&](bool busy, const auto& error) {
    if (!busy || std::chrono::steady_clock::now() - start > options_.busy_timeout) {
      throw store_error(path_, "open it", error);
    }
  };
  for (;;) {
    try {
      db_ = std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      // Several ftrun processes (sweeps, concurrent runs, a query while training) share one store: writers wait
      // for each other's locks, and readers proceed while a run writes (WAL).
      db_->setBusyTimeout(static_cast<int>(options_.busy_timeout.count()));
      sql_ = std::make_unique<SqliteConnection>(*db_);
      // Reading the version first checks that the file is a database at all, and that it is not another program's,
      // before anything is written to it (the version and the tables from one snapshot).
      {
        SQLite::Transaction snapshot(*db_);
        if (db_->execAndGet("PRAGMA user_version").getInt() == 0) refuse_foreign_tables();
      }
      if (db_->execAndGet("PRAGMA journal_mode").getString() != "wal") db_->exec("PRAGMA journal_mode = WAL");
      break;
    } catch (const SqlError& error) {
      // refuse_foreign_tables' query, through the connection: its errors are the SQLite ones below, translated.
      give_up_unless_busy(error.transient(), error);
    } catch (const SQLite::Exception& error) {
      const int code = error.getErrorCode() & 0xff;
      give_up_unless_busy(code == SQLITE_BUSY || code == SQLITE_LOCKED, error);
    }
    sql_.reset();
    db_.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int seen =
      guarded(path_, "read its schema version", [&] { return db_->execAndGet("PRAGMA user_version").getInt(); });
  refuse_newer_schema(path_, seen);
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
      SqlQuery read_version(*sql_, "PRAGMA user_version");
      read_version.executeStep();
      const int version = read_version.getColumn(0).getInt();
      read_version.reset();
      int next = kStoreSchemaVersion;
      if (version > 0 && version < kStoreSchemaVersion) {
        const StoreMigration& migration = store_migrations().at(static_cast<std::size_t>(version - 1));
        schema_step(version, migration.sql, [&] { sql_->execute(migration.sql); });
        next = migration.from + 1;
        applied = "results store " + path_ + ": schema " + std::to_string(version) + " -> " + std::to_string(next) +
                  ": " + migration.what;
      }
      if (next == kStoreSchemaVersion) {
        const std::string sql = store_schema_sql();
        schema_step(version, sql, [&] { sql_->execute(sql); });
      }
      sql_->execute("PRAGMA user_version = " + std::to_string(next));
      SqlQuery check(*sql_, "PRAGMA foreign_key_check");
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

namespace {

// The table an SQLite schema error names ("no such table: runs", "table runs has no column named task", "use DROP
// TABLE to delete table epoch_metrics"), or the one the step's `sql` adds a duplicate column to; or nothing.
std::string table_named_in(const std::string& message, const std::string& sql) {
  static const std::regex patterns[] = {
      std::regex(R"(no such table: ([\w.]+))"), std::regex(R"(table ([\w.]+) has no column)"),
      std::regex(R"(delete (?:table|view) ([\w.]+))"), std::regex(R"((?:table|view|index) ([\w.]+) already exists)")};
  std::smatch match;
  for (const auto& pattern : patterns) {
    if (std::regex_search(message, match, pattern)) return match[1];
  }
  // "duplicate column name: task" names the column: the table is the one the step adds it to.
  static const std::regex duplicate(R"(duplicate column name: (\w+))");
  if (std::regex_search(message, match, duplicate)) {
    const std::regex added("ALTER TABLE (\\w+) ADD COLUMN " + match[1].str() + "\\b");
    std::smatch table;
    if (std::regex_search(sql, table, added)) return table[1];
  }
  return {};
}

}  // namespace

// A store whose tables are not those of the version it claims (a file ftrun did not write, a hand-edited
// user_version, a damaged schema) makes a migration fail half-way with SQLite's own words; the transaction rolls
// the half back, and the user is told what the file is and that it was left as it was.
template <class Fn>
void ResultsStore::schema_step(int version, const std::string& sql, Fn&& fn) {
  try {
    fn();
  } catch (const SqlError& error) {
    if (error.transient()) throw;  // a lock or a full disk, not a wrong file: the write is tried again
    const std::string table = table_named_in(error.what(), sql);
    throw StoreError("results store " + path_ + ": its tables do not match its schema version " +
                     std::to_string(version) + (table.empty() ? std::string() : " (table " + table + " differs") +
                     (table.empty() ? " (" : ": ") + "SQLite says \"" + error.what() +
                     "\"); it is not a store ftrun wrote, or it is damaged. Nothing was changed; open it with "
                     "sqlite3 to look, or move it aside to start a new store");
  }
}

// ftrun sets user_version in the transaction that creates its tables, so tables at version 0 are another
// program's: adding ftrun's beside them would mix two databases in one file.
void ResultsStore::refuse_foreign_tables() {
  std::string tables;
  SqlQuery query(*sql_, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name LIMIT 6");
  while (query.executeStep()) tables += (tables.empty() ? "" : ", ") + query.getColumn(0).getString();
  if (tables.empty()) return;
  throw StoreError("results store " + path_ + " holds tables (" + tables +
                   ") but no ftrun schema version: it is not a store ftrun wrote. Nothing was changed; give "
                   "another path with --store");
}

// A copy of the store as it was, before an upgrade rewrites its tables: `ftrun.db` → `ftrun.db.v1.bak`.
// VACUUM INTO writes a consistent snapshot while other processes keep reading; when several processes upgrade
// at once, the first one's copy is kept (VACUUM INTO refuses to overwrite).
std::string ResultsStore::back_up_before_upgrade(int version) {
  const std::string backup = path_ + ".v" + std::to_string(version) + ".bak";
  std::error_code error;
  if (fs::exists(backup, error)) return backup;
  try {
    SqlQuery vacuum(*sql_, "VACUUM INTO ?");
    vacuum.bind(1, backup);
    vacuum.exec();
  } catch (const SqlError& e) {
    if (fs::exists(backup, error)) return backup;  // another process made it first
    throw store_error(
        path_, "back it up to " + backup + " before upgrading its schema from version " + std::to_string(version), e);
  }
  return backup;
}

void ResultsStore::ResetStatement::operator()(SqlQuery* statement) const { statement->reset(); }

auto ResultsStore::prepared(const std::string& sql) const -> std::unique_ptr<SqlQuery, ResetStatement> {
  auto& statement = statements_[sql];
  if (!statement) statement = std::make_unique<SqlQuery>(*sql_, sql);
  return std::unique_ptr<SqlQuery, ResetStatement>(statement.get());
}

ResultsStore::~ResultsStore() = default;

std::string ResultsStore::checkpoint_dir() const {
  if (!options_.checkpoint_dir.empty()) return fs::absolute(options_.checkpoint_dir).lexically_normal().string();
  // A server's store has no file to sit beside: its checkpoints go where the command runs, unless
  // $FTRUN_CHECKPOINT_DIR names a folder every host shares (docs/store.md, "PostgreSQL").
  if (is_postgres_url(path_)) return fs::absolute("results/checkpoints").lexically_normal().string();
  return fs::absolute(fs::path(path_)).lexically_normal().string() + "-checkpoints";
}

}  // namespace ft
