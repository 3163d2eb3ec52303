// What the store must never lose: concurrent writers, locks held by others, NaN metrics, resumes that race,
// checkpoints that belong to one store, and stores made by an older ftrun.
#include "processes.h"
#include "store/closing_journal.h"
#include "store/results_store.h"
#include "store/schema.h"
#include "store/sqlite_connection.h"
#include "store/store_internals.h"
#include "store_workloads.h"
#include "temp_dir.h"

#include <ftsdk/error.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

ft::NewRun tiny_run(const std::string& name = "demo") {
  ft::NewRun run;
  run.name = name;
  run.group_id = name + "-1";
  run.experiment_file = "exp.toml";
  run.config_toml = "[experiment]\nname = \"demo\"\n";
  run.device = "cpu";
  run.torch_version = "2.11.0";
  return run;
}

ft::StoreOptions quick(int timeout_ms, int attempts) {
  ft::StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(timeout_ms);
  options.write_attempts = attempts;
  return options;
}

// Holds SQLite's write lock on `path` from another connection for `hold`, as another process would.
std::thread hold_write_lock(const std::string& path, std::chrono::milliseconds hold, bool& locked) {
  locked = false;
  auto db = std::make_shared<SQLite::Database>(path, SQLite::OPEN_READWRITE);
  db->exec("BEGIN EXCLUSIVE");
  locked = true;
  return std::thread([db, hold] {
    std::this_thread::sleep_for(hold);
    db->exec("COMMIT");
  });
}

}  // namespace

TEST_CASE("eight processes opening a new store at once all record every row", "[store][concurrency]") {
  TempDir dir;
  store_workloads::eight_writers_record_every_row(dir / "shared.db");
}

TEST_CASE("a write waits for another process's lock instead of failing", "[store][concurrency]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db", quick(5000, 1));
  const auto id = store.begin_run(tiny_run());
  bool locked = false;
  auto holder = hold_write_lock(dir / "ftrun.db", std::chrono::milliseconds(1500), locked);
  REQUIRE(locked);
  const auto start = std::chrono::steady_clock::now();
  store.log_metrics(id, {{"epoch", 1, 1, "train_loss", 0.5}});
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(1000));
  holder.join();
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics").getInt() == 1);
}

TEST_CASE("a write that cannot be made says why, and closing the run later records the rows it could not write",
          "[store][concurrency]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db", quick(200, 2));
  const auto id = store.begin_run(tiny_run());
  bool locked = false;
  auto holder = hold_write_lock(dir / "ftrun.db", std::chrono::milliseconds(2500), locked);
  REQUIRE(locked);
  const std::vector<ft::MetricRow> rows = {{"epoch", 1, 5, "train_loss", 0.5}, {"epoch", 1, 5, "val_loss", 0.6}};
  std::string first_error;
  try {
    store.log_metrics(id, rows);
  } catch (const ft::StoreError& e) {
    first_error = e.what();
  }
  CHECK_THAT(first_error,
             Contains("database is locked") && Contains("after 2 attempts") && Contains("FTRUN_STORE_TIMEOUT"));
  // Closing waits longer than an ordinary write (3x the attempts), long enough for this lock to go.
  store.finish_run(id, ft::RunStatus::failed, first_error, rows);
  holder.join();
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "failed");
  CHECK_THAT(db.execAndGet("SELECT error FROM runs").getString(), Contains("database is locked"));
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics").getInt() == 2);
}

TEST_CASE("NaN and infinite metrics are stored, and a run can be recorded as diverged", "[store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  const auto id = store.begin_run(tiny_run());
  const double inf = std::numeric_limits<double>::infinity();
  store.log_metrics(id, {{"step", 1, 1, "train_loss", 2.0},
                         {"step", 1, 2, "train_loss", std::nan("")},
                         {"step", 1, 2, "grad_norm", inf}});
  store.finish_run(id, ft::RunStatus::diverged, "the training loss became nan at epoch 1, step 2");
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics").getInt() == 3);
  CHECK(db.execAndGet("SELECT value IS NULL FROM metrics WHERE step = 2 AND name = 'train_loss'").getInt() == 1);
  CHECK(std::isinf(db.execAndGet("SELECT value FROM metrics WHERE name = 'grad_norm'").getDouble()));
  CHECK(store.status_of(id) == "diverged");
}

TEST_CASE("of two processes resuming one run, exactly one claims it", "[store][concurrency]") {
  TempDir dir;
  ft::ResultsStore first(dir / "ftrun.db");
  ft::ResultsStore second(dir / "ftrun.db");
  const auto id = first.begin_run(tiny_run());
  first.log_metrics(id, {{"epoch", 1, 1, "train_loss", 1.0}, {"epoch", 2, 2, "train_loss", 0.9}});
  first.finish_run(id, ft::RunStatus::interrupted, "stopped by signal 2");
  CHECK(first.claim_for_resume(id, 1));
  CHECK_FALSE(second.claim_for_resume(id, 1));
  CHECK(first.status_of(id) == "running");
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT MAX(epoch) FROM metrics").getInt() == 1);        // epoch 2 is trained again
  CHECK(db.execAndGet("SELECT MAX(epoch) FROM epoch_metrics").getInt() == 1);  // the triggers followed
  CHECK(db.execAndGet("SELECT train_loss FROM epoch_metrics").getDouble() == 1.0);
  first.finish_run(id, ft::RunStatus::completed);
  CHECK_FALSE(second.claim_for_resume(id, 1));  // completed: nothing to resume
}

TEST_CASE("each store has its own checkpoint folder, recorded as absolute paths", "[store]") {
  TempDir dir;
  ft::ResultsStore a(dir / "x/a.db");
  ft::ResultsStore b(dir / "x/b.db");
  CHECK(a.checkpoint_dir() != b.checkpoint_dir());
  CHECK(a.checkpoint_dir() == (dir.path() / "x/a.db-checkpoints").string());
  CHECK(fs::path(a.checkpoint_dir()).is_absolute());

  const auto id = a.begin_run(tiny_run());
  const fs::path file = fs::path(a.checkpoint_dir()) / "run-1/last.pt";
  fs::create_directories(file.parent_path());
  std::ofstream(file) << "weights";
  a.set_checkpoint(id, file.string());
  CHECK(a.checkpoint_of(id) == file.string());
  // Run 1 of the other store has no checkpoint, whatever lies in a's folder.
  b.begin_run(tiny_run());
  CHECK_FALSE(b.checkpoint_of(1).has_value());

  SECTION("a missing checkpoint is an error that names it") {
    fs::remove(file);
    CHECK_THROWS_AS(a.checkpoint_of(id), ft::DataError);
    CHECK_THROWS_WITH(a.checkpoint_of(id),
                      Contains(file.string()) && Contains("missing") && Contains("--checkpoint-dir"));
  }
  SECTION("a store moved with its checkpoint folder still finds its checkpoints") {
    fs::rename(dir / "x", dir / "moved");
    ft::ResultsStore moved(dir / "moved/a.db");
    CHECK(moved.checkpoint_of(id) == (dir.path() / "moved/a.db-checkpoints/run-1/last.pt").string());
  }
}

TEST_CASE("a store made by ftrun 0.1 (schema 1) is upgraded in place, keeping its runs", "[store]") {
  TempDir dir;
  const std::string path = dir / "old.db";
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    std::ifstream schema(FT_STORE_V1_SCHEMA);
    REQUIRE(schema);
    std::stringstream text;
    text << schema.rdbuf();
    db.exec(text.str());
    db.exec(R"(INSERT INTO runs (name, group_id, status, started_at, experiment_file, config_toml, seed, device,
        threads, ftrun_version, torch_version, host, pid) VALUES ('old', 'g', 'completed', 't', 'f', '', 0, 'cpu',
        2, '0.1.0', '2.11.0', 'h', 1))");
    db.exec("INSERT INTO run_params VALUES (1, 'optimizer.lr', 0.01)");
    db.exec("INSERT INTO metrics VALUES (1, 'epoch', 1, 10, 'val_loss', 0.5)");
    db.exec("PRAGMA user_version = 1");
  }
  ft::ResultsStore store(path);
  SQLite::Database db(path);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == ft::kStoreSchemaVersion);
  // The store as it was is kept beside it, untouched.
  {
    SQLite::Database backup(path + ".v1.bak");
    CHECK(backup.execAndGet("PRAGMA user_version").getInt() == 1);
    CHECK(backup.execAndGet("SELECT name FROM runs").getString() == "old");
  }
  CHECK(db.execAndGet("SELECT name FROM runs").getString() == "old");
  CHECK(db.execAndGet("SELECT value FROM run_params").getDouble() == 0.01);
  CHECK(db.execAndGet("SELECT best_val_loss FROM run_summary").getDouble() == 0.5);
  const auto id = store.begin_run(tiny_run());
  store.log_metrics(id, {{"step", 1, 1, "train_loss", std::nan("")}});
  store.finish_run(id, ft::RunStatus::diverged, "nan");
  CHECK(store.status_of(id) == "diverged");
}

namespace {

// Every row of every table of a store, as text, in the columns `columns_of` gives per table: what an upgrade
// must keep.
std::map<std::string, std::vector<std::string>> contents(SQLite::Database& db,
                                                         const std::map<std::string, std::string>& columns_of) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [table, columns] : columns_of) {
    SQLite::Statement select(db, "SELECT " + columns + " FROM " + table + " ORDER BY " + columns);
    while (select.executeStep()) {
      std::string row;
      for (int i = 0; i < select.getColumnCount(); ++i) row += select.getColumn(i).getString() + "|";
      out[table].push_back(row);
    }
  }
  return out;
}

std::map<std::string, std::string> table_columns(SQLite::Database& db) {
  std::map<std::string, std::string> out;
  SQLite::Statement tables(db, "SELECT name FROM sqlite_master WHERE type = 'table'");
  while (tables.executeStep()) {
    const std::string table = tables.getColumn(0).getString();
    SQLite::Statement info(db, "SELECT group_concat(name, ', ') FROM pragma_table_info(?)");
    info.bind(1, table);
    info.executeStep();
    out[table] = info.getColumn(0).getString();
  }
  return out;
}

}  // namespace

TEST_CASE("the migrations are numbered without gaps up to the current schema", "[store]") {
  const auto& migrations = ft::store_migrations();
  REQUIRE(migrations.size() == static_cast<std::size_t>(ft::kStoreSchemaVersion - 1));
  for (std::size_t i = 0; i < migrations.size(); ++i) CHECK(migrations[i].from == static_cast<int>(i) + 1);
}

TEST_CASE("stores written by every schema, committed as fixtures, open with nothing lost", "[store]") {
  std::size_t fixtures = 0;
  for (const auto& entry : fs::directory_iterator(FT_STORE_FIXTURES)) {
    // store_v2.sql, ...: each the SQL text of a store (sqlite3 .dump), built into a database here.
    const std::string name = entry.path().filename();
    if (!std::regex_match(name, std::regex("store_v[0-9]+\\.sql"))) continue;
    ++fixtures;
    INFO(name);
    TempDir dir;
    const std::string path = dir / "store.db";
    std::map<std::string, std::vector<std::string>> before;
    std::map<std::string, std::string> columns;
    int version = 0;
    {
      SQLite::Database old(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      std::ifstream dump(entry.path());
      std::stringstream text;
      text << dump.rdbuf();
      old.exec(text.str());
      version = old.execAndGet("PRAGMA user_version").getInt();
      columns = table_columns(old);
      before = contents(old, columns);
    }
    REQUIRE(version >= 1);
    REQUIRE(version <= ft::kStoreSchemaVersion);
    {
      ft::ResultsStore store(path);
      CHECK(!store.list_runs({}).empty());
    }
    SQLite::Database db(path);
    CHECK(db.execAndGet("PRAGMA user_version").getInt() == ft::kStoreSchemaVersion);
    CHECK(contents(db, columns) == before);
    CHECK(fs::exists(path + ".v" + std::to_string(version) + ".bak") == (version < ft::kStoreSchemaVersion));
    CHECK(db.execAndGet("SELECT COUNT(*) FROM run_summary").getInt() ==
          db.execAndGet("SELECT COUNT(*) FROM runs").getInt());
  }
  // The store written by the current schema is committed, so the next schema's upgrade is tested on it.
  CHECK(fs::exists(std::string(FT_STORE_FIXTURES) + "/store_v" + std::to_string(ft::kStoreSchemaVersion) + ".sql"));
  CHECK(fixtures == static_cast<std::size_t>(ft::kStoreSchemaVersion - 1));  // versions 2 to the current one
}

TEST_CASE("$FTRUN_STORE_TIMEOUT sets the busy timeout and is checked", "[store]") {
  setenv("FTRUN_STORE_TIMEOUT", "2.5", 1);
  CHECK(ft::store_options_from_environment().busy_timeout == std::chrono::milliseconds(2500));
  setenv("FTRUN_STORE_TIMEOUT", "soon", 1);
  CHECK_THROWS_WITH(ft::store_options_from_environment(), Contains("FTRUN_STORE_TIMEOUT") && Contains("soon"));
  unsetenv("FTRUN_STORE_TIMEOUT");
  CHECK(ft::store_options_from_environment().busy_timeout == std::chrono::milliseconds(60000));
}

TEST_CASE("a folder given as the store is refused with the path to use", "[store]") {
  TempDir dir;
  fs::create_directories(dir / "results");
  CHECK_THROWS_WITH(ft::ResultsStore(dir / "results"), Contains("is a folder") && Contains("ftrun.db"));
}

TEST_CASE("a store whose tables do not match its version is refused, naming the table, and left as it was", "[store]") {
  for (int lie = 1; lie < ft::kStoreSchemaVersion; ++lie) {
    TempDir dir;
    const std::string path = dir / "ftrun.db";
    ft::ResultsStore(path).begin_run(tiny_run());
    {
      SQLite::Database db(path, SQLite::OPEN_READWRITE);
      db.exec("PRAGMA user_version = " + std::to_string(lie));  // today's tables, an older version's number
    }
    INFO("user_version " << lie);
    CHECK_THROWS_MATCHES(ft::ResultsStore(path), ft::StoreError,
                         Catch::Matchers::Predicate<ft::StoreError>([&](const ft::StoreError& e) {
                           const std::string message = e.what();
                           return message.find("its tables do not match its schema version " + std::to_string(lie)) !=
                                      std::string::npos &&
                                  message.find("table ") != std::string::npos &&
                                  message.find("Nothing was changed") != std::string::npos;
                         }));
    SQLite::Database db(path, SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("PRAGMA user_version").getInt() == lie);
    CHECK(db.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 1);
  }
  // An SQLite file of another program that happens to have a table named runs.
  TempDir dir;
  const std::string path = dir / "other.db";
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE runs (x INTEGER)");
  }
  CHECK_THROWS_WITH(ft::ResultsStore(path), Contains("holds tables (runs)") &&
                                                Contains("it is not a store ftrun wrote") &&
                                                Contains("Nothing was changed"));
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM sqlite_master").getInt() == 1);
}

TEST_CASE("a run's closing kept in its reserved journal is recorded by the next command, rows and all", "[store]") {
  TempDir dir;
  const std::string path = dir / "ftrun.db";
  ft::ResultsStore store(path);
  const std::int64_t id = store.begin_run(tiny_run());
  const std::string journal = path + "-checkpoints/run-" + std::to_string(id) + "/closing";
  REQUIRE(fs::exists(journal));
  CHECK(fs::file_size(journal) == ft::kClosingJournalBytes);
  store.close_abandoned_runs();  // a reservation alone is a run still training: nothing to record
  CHECK(store.status_of(id) == "running");

  const ft::ClosingRecord record{"failed",
                                 "2026-12-06T03:00:00Z",
                                 "cannot record metrics: database or disk is full\n\tsecond line \\ with a tab",
                                 {{"epoch", 3, 30, "train_loss", 0.25}, {"epoch", 3, 30, "val_loss", std::nan("")}}};
  REQUIRE(ft::write_closing_journal(journal, record));
  CHECK(fs::file_size(journal) == ft::kClosingJournalBytes);  // written over its own blocks
  ft::ResultsStore later(path);
  later.close_abandoned_runs();
  CHECK(later.status_of(id) == "failed");
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("SELECT error FROM runs").getString() == record.error);
  CHECK(db.execAndGet("SELECT ended_at FROM runs").getString() == record.ended_at);
  CHECK(db.execAndGet("SELECT value FROM metrics WHERE name = 'train_loss'").getDouble() == 0.25);
  CHECK(db.execAndGet("SELECT value IS NULL FROM metrics WHERE name = 'val_loss'").getInt() == 1);
  CHECK_FALSE(fs::exists(journal));
}

TEST_CASE("a closing journal cut short, or of more rows than fit, is handled without losing the run", "[store]") {
  TempDir dir;
  const std::string journal = dir / "closing";
  REQUIRE(ft::reserve_closing_file(journal));
  ft::ClosingRecord record{"failed", "2026-12-06T03:00:00Z", "disk full", {}};
  for (int i = 0; i < 10000; ++i) record.rows.push_back({"step", 1, i, "train_loss", i * 0.5});
  REQUIRE(ft::write_closing_journal(journal, record));
  const auto read = ft::read_closing_journal(journal);
  REQUIRE(read);
  CHECK(read->rows.size() > 1000);
  CHECK(read->rows.size() < record.rows.size());
  CHECK(read->rows.back().step == 9999);  // the newest rows are kept
  CHECK_THAT(read->error, Contains("unwritten metric rows did not fit in the closing journal"));
  // Cut short while being written (no end line): not applied.
  fs::resize_file(journal, 200);
  CHECK_FALSE(ft::read_closing_journal(journal));
}

TEST_CASE("rows a cut-off write committed are found, so that its retry does not record them twice", "[store]") {
  TempDir dir;
  const std::string path = dir / "ftrun.db";
  ft::ResultsStore store(path);
  const auto id = store.begin_run(tiny_run());
  SQLite::Database database(path, SQLite::OPEN_READWRITE);
  ft::SqliteConnection connection(database);
  const std::vector<ft::MetricRow> held = {{"step", 1, 1, "train_loss", 1.0}, {"step", 1, 2, "train_loss", 0.9}};
  const std::vector<ft::MetricRow> more = {{"step", 1, 3, "train_loss", 0.8}, {"epoch", 1, 3, "train_loss", 0.9}};
  std::vector<ft::MetricRow> all = held;
  all.insert(all.end(), more.begin(), more.end());
  CHECK(ft::store_internals::rows_already_recorded(connection, id, all) == 0);  // none yet
  store.log_metrics(id, held);
  // The held rows went in before the connection dropped: the next write of everything held leaves them out.
  CHECK(ft::store_internals::rows_already_recorded(connection, id, all) == held.size());
  CHECK(ft::store_internals::rows_already_recorded(connection, id, more) == 0);
  store.log_metrics(id, all);  // a write that was not cut off writes what it is given
  CHECK(ft::store_internals::rows_already_recorded(connection, id, all) == all.size());
}
