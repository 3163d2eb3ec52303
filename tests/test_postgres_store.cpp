// The results store on a real, throw-away PostgreSQL 15 (postgres_server.h) against the same store on SQLite:
// the same calls leave the same rows in every table and view, and give the same answers; `ftrun merge` copies
// SQLite stores into a PostgreSQL one once; a database ftrun cannot use is refused before anything is written.
#include "postgres_server.h"
#include "store/postgres_connection.h"
#include "store/results_store.h"
#include "store/run_query.h"
#include "store/schema.h"
#include "store/sqlite_connection.h"
#include "store_workloads.h"

#include <ftsdk/error.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;

namespace {

template <class Value>
ft::ParamValue param(Value data) {
  ft::ParamValue value;
  value.data = data;
  return value;
}

ft::NewRun new_run(const std::string& name, double lr, std::optional<std::int64_t> parent = std::nullopt) {
  ft::NewRun run;
  run.name = name;
  run.stage = parent ? "finetune" : "";
  run.group_id = name + "-group";
  run.parent_run_id = parent;
  run.experiment_file = name + ".toml";
  run.config_toml = "[experiment]\nname = \"" + name + "\"\n";
  run.seed = 7;
  run.device = "cpu";
  run.threads = 2;
  run.torch_version = "2.11.0";
  run.params = {{"optimizer.lr", param(lr)},
                {"optimizer.type", param(std::string("sgd"))},
                {"train.epochs", param(std::int64_t{6})},
                {"train.augment", param(true)}};
  run.default_keys = {"train.augment"};
  run.plugins = {{"optimizer", "sgd", "/x/ft_sgd.so", "sgd", "1.0.0"}};
  return run;
}

// Epochs of a run whose validation loss follows `val_losses` while its training loss falls.
std::vector<ft::MetricRow> epochs(const std::vector<double>& val_losses) {
  std::vector<ft::MetricRow> rows;
  for (std::size_t i = 0; i < val_losses.size(); ++i) {
    const auto epoch = static_cast<std::int64_t>(i + 1);
    rows.push_back({"step", epoch, epoch * 10 - 5, "train_loss", 2.0 / static_cast<double>(epoch + 1)});
    rows.push_back({"epoch", epoch, epoch * 10, "train_loss", 1.0 / static_cast<double>(epoch)});
    rows.push_back({"epoch", epoch, epoch * 10, "val_loss", val_losses[i]});
    rows.push_back({"epoch", epoch, epoch * 10, "val_accuracy", 1.0 - val_losses[i] / 3.0});
    rows.push_back({"epoch", epoch, epoch * 10, "lr", 0.01 / static_cast<double>(epoch)});
  }
  return rows;
}

// The same runs, whichever the store: one overfitting, one that recovers (a fine-tuning stage of the first), one
// diverged with a NaN loss, one still running, one resumed after its first epoch (its later epochs dropped).
void record_runs(ft::ResultsStore& store) {
  const auto overfit = store.begin_run(new_run("overfit", 0.01));
  store.log_metrics(overfit, epochs({1.0, 0.8, 0.7, 0.75, 0.9, 1.1}));
  store.finish_run(overfit, ft::RunStatus::completed, "", {{"final", 6, 60, "test_accuracy", 0.625}});
  const auto recovers = store.begin_run(new_run("recovers", 0.001, overfit));
  store.log_metrics(recovers, epochs({1.0, 1.2, 0.5, 0.45}));
  store.finish_run(recovers, ft::RunStatus::completed);
  const auto diverged = store.begin_run(new_run("diverged", 1e30));
  store.log_metrics(diverged, {{"epoch", 1, 10, "train_loss", std::nan("")},
                               {"epoch", 1, 10, "val_loss", std::numeric_limits<double>::infinity()}});
  store.finish_run(diverged, ft::RunStatus::diverged, "loss is NaN at step 10");
  const auto running = store.begin_run(new_run("running", 0.1));
  store.log_metrics(running, epochs({0.9}));
  // Interrupted after three epochs and resumed from the first: the two after it are dropped, then trained again.
  const auto resumed = store.begin_run(new_run("resumed", 0.02));
  store.log_metrics(resumed, epochs({1.0, 0.6, 0.4}));
  store.finish_run(resumed, ft::RunStatus::interrupted, "stopped by signal 2");
  REQUIRE(store.claim_for_resume(resumed, 1));
  auto again = epochs({1.0, 0.7});
  again.erase(again.begin(), again.begin() + 5);  // epoch 1's rows are kept from before
  store.log_metrics(resumed, again);
}

// A connection of its own to a store's database, for reading its tables as a user would.
struct Reader {
  explicit Reader(const std::string& location) {
    if (ft::is_postgres_url(location)) {
      connection = std::make_unique<ft::PostgresConnection>(location);
    } else {
      database = std::make_unique<SQLite::Database>(location);
      connection = std::make_unique<ft::SqliteConnection>(*database);
    }
  }
  std::unique_ptr<SQLite::Database> database;
  std::unique_ptr<ft::SqlConnection> connection;
};

// Whether `text` is a number and nothing else: run_params.value, a REAL in SQLite, is its TEXT in PostgreSQL.
bool spells_number(const std::string& text) {
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

// Each row of `sql` as text, column by column, numbers as numbers (a parameter's value too, whichever its type):
// what the two backends must agree on. Times differ between two recordings, so started_at and ended_at are left
// out.
std::vector<std::vector<std::string>> rows_of(ft::SqlConnection& connection, const std::string& sql) {
  ft::SqlQuery query(connection, sql);
  std::vector<std::vector<std::string>> rows;
  while (query.executeStep()) {
    std::vector<std::string> row;
    for (int i = 0; i < query.getColumnCount(); ++i) {
      const std::string name = query.getColumnName(i);
      if (name == "started_at" || name == "ended_at") continue;
      const auto column = query.getColumn(i);
      if (column.isNull()) {
        row.push_back(name + "=NULL");
      } else if (column.isNumber() || spells_number(column.getString())) {
        char text[40];
        std::snprintf(text, sizeof text, "%.15g",
                      column.isNumber() ? column.getDouble() : std::stod(column.getString()));
        row.push_back(name + "=" + text);
      } else {
        row.push_back(name + "=" + column.getString());
      }
    }
    rows.push_back(row);
  }
  return rows;
}

// Every table and view of the store, row by row, in a fixed order.
const std::vector<std::string>& compared_queries() {
  static const std::vector<std::string> queries = {
      "SELECT * FROM runs ORDER BY id",
      "SELECT run_id, key, value, is_default FROM run_params ORDER BY run_id, key",
      "SELECT * FROM run_plugins ORDER BY run_id, kind",
      "SELECT run_id, scope, epoch, step, name, value FROM metrics ORDER BY run_id, rowid",
      "SELECT * FROM epoch_metrics ORDER BY run_id, epoch",
      "SELECT * FROM run_results ORDER BY run_id",
      "SELECT * FROM run_summary ORDER BY id",
      "SELECT * FROM evaluations ORDER BY run_id, epoch",
      "SELECT * FROM validation_rises ORDER BY run_id, first_epoch",
      "SELECT * FROM overfitting ORDER BY run_id",
      "SELECT * FROM sweeps ORDER BY id",
      "SELECT * FROM trials ORDER BY sweep_id, number",
  };
  return queries;
}

// The tables the triggers keep hold what the runs' epochs give when worked out afresh.
void check_kept_tables(ft::SqlConnection& connection) {
  CHECK(rows_of(connection, "SELECT * FROM run_results ORDER BY run_id") ==
        rows_of(connection, "SELECT * FROM (" + ft::run_results_query() + ") AS q ORDER BY run_id"));
  CHECK(rows_of(connection, "SELECT * FROM validation_rises ORDER BY run_id, first_epoch") ==
        rows_of(connection, "SELECT * FROM (" + ft::validation_rises_query() + ") AS r ORDER BY run_id, first_epoch"));
}

void check_same_rows(const std::string& sqlite_file, const std::string& url) {
  Reader sqlite(sqlite_file), postgres(url);
  for (const auto& sql : compared_queries()) {
    INFO(sql);
    const auto expected = rows_of(*sqlite.connection, sql);
    CHECK_FALSE(
        (expected.empty() && sql.find("sweeps") == std::string::npos && sql.find("trials") == std::string::npos));
    CHECK(rows_of(*postgres.connection, sql) == expected);
  }
  // What the triggers kept in run_results and validation_rises is what the runs' epochs give now, on both.
  for (auto* reader : {&sqlite, &postgres}) check_kept_tables(*reader->connection);
}

// A database of its own on the server for one test, so that tests do not see each other's runs.
std::string new_database(const ftrun_test::PostgresServer& server, const std::string& name) {
  ft::PostgresConnection admin(server.url());
  admin.execute("CREATE DATABASE " + name);
  return server.url(name);
}

}  // namespace

TEST_CASE("a PostgreSQL store keeps the same rows, views and answers as an SQLite store", "[store][pg]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  TempDir dir;
  const std::string file = dir / "ftrun.db";
  const std::string url = new_database(server, "same_answers");
  ft::ResultsStore sqlite(file), postgres(url);
  record_runs(sqlite);
  record_runs(postgres);
  check_same_rows(file, url);

  // The store's own answers, as the commands print them.
  ft::RunFilter filter;
  filter.where = ft::compile_where("optimizer.lr < 0.05 and status = completed");
  filter.order_by = ft::compile_order_by("val_loss.min asc");
  filter.columns = ft::compile_columns("optimizer.lr, optimizer.type, val_loss.argmin");
  const auto from_sqlite = sqlite.list_runs(filter), from_postgres = postgres.list_runs(filter);
  REQUIRE(from_postgres.size() == 2);
  REQUIRE(from_sqlite.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(from_postgres[i].name == from_sqlite[i].name);
    CHECK(from_postgres[i].key_params == from_sqlite[i].key_params);
    CHECK(from_postgres[i].best_val_loss == from_sqlite[i].best_val_loss);
    CHECK(from_postgres[i].epochs == from_sqlite[i].epochs);
    CHECK(from_postgres[i].columns == from_sqlite[i].columns);
  }
  CHECK(from_postgres[0].name == "recovers");
  for (std::int64_t run = 1; run <= 4; ++run) {
    INFO("run " << run);
    CHECK(postgres.params_of(run) == sqlite.params_of(run));
    CHECK(postgres.default_params_of(run) == sqlite.default_params_of(run));
    CHECK(postgres.validation_rises_of(run).size() == sqlite.validation_rises_of(run).size());
    CHECK(postgres.metrics_of(run).size() == sqlite.metrics_of(run).size());
    CHECK(postgres.status_of(run) == sqlite.status_of(run));
  }
  CHECK(postgres.status_of(4) == "running");

  // Opened again, by another process's worth of connection: the schema is there once, runs go on being numbered.
  ft::ResultsStore again(url);
  CHECK(again.begin_run(new_run("sixth", 0.5)) == 6);
}

TEST_CASE("ftrun merge copies SQLite stores into a PostgreSQL one, once", "[store][pg]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  TempDir dir;
  const std::string file = dir / "shard.db";
  {
    ft::ResultsStore shard(file);
    record_runs(shard);
  }
  const std::string url = new_database(server, "merged");
  ft::ResultsStore postgres(url);
  const auto first = postgres.merge_from(file);
  CHECK(first.runs == 5);
  check_same_rows(file, url);
  const auto second = postgres.merge_from(file);
  CHECK(second.runs == 0);
  CHECK(second.runs_already_there == 5);
  check_same_rows(file, url);
}

TEST_CASE("a PostgreSQL database ftrun cannot use is refused before anything is written", "[store][pg]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  // Eight processes' worth of connections opening one new database at once create its schema once.
  const std::string url = new_database(server, "opened_together");
  std::vector<std::thread> openers;
  std::vector<std::string> errors(8);
  for (std::size_t i = 0; i < errors.size(); ++i) {
    openers.emplace_back([&, i] {
      try {
        ft::ResultsStore store(url);
      } catch (const std::exception& error) {
        errors[i] = error.what();
      }
    });
  }
  for (auto& opener : openers) opener.join();
  CHECK(errors == std::vector<std::string>(8));
  Reader reader(url);
  CHECK(rows_of(*reader.connection, "SELECT version FROM schema_version") ==
        std::vector<std::vector<std::string>>{{"version=" + std::to_string(ft::kStoreSchemaVersion)}});

  // A newer schema: named, and the database left as it was.
  reader.connection->execute("UPDATE schema_version SET version = 99");
  CHECK_THROWS_WITH(ft::ResultsStore(url), Contains("schema version 99") && Contains("newer than this ftrun"));
  reader.connection->execute("UPDATE schema_version SET version = " + std::to_string(ft::kStoreSchemaVersion));

  // Another program's tables: refused, nothing added beside them.
  const std::string other = new_database(server, "someone_elses");
  Reader someone(other);
  someone.connection->execute("CREATE TABLE invoices (id INTEGER)");
  CHECK_THROWS_WITH(ft::ResultsStore(other), Contains("holds tables (invoices)") && Contains("another program"));
  CHECK(rows_of(*someone.connection,
                "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = "
                "'public'") == std::vector<std::vector<std::string>>{{"n=1"}});

  // A database that does not exist: the connection's own message, with what to do.
  CHECK_THROWS_WITH(ft::ResultsStore(server.url("no_such_db")), Contains("does not exist") && Contains("createdb"));
}

// The text of a committed fixture.
std::string fixture_text(const std::string& name) {
  std::ifstream file(std::string(FT_STORE_FIXTURES) + "/" + name);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST_CASE("a PostgreSQL store of an older schema is upgraded in one transaction, with the answers of SQLite's",
          "[store][pg]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  // The same four runs (with their sweep) as an SQLite store of version 6 and a PostgreSQL one, each upgraded.
  TempDir dir;
  const std::string file = dir / "v6.db";
  SQLite::Database(file, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE).exec(fixture_text("store_v6.sql"));
  const std::string url = new_database(server, "version_6");
  Reader(url).connection->execute(fixture_text("postgres_store_v6.sql"));
  REQUIRE(rows_of(*Reader(url).connection, "SELECT version FROM schema_version") ==
          std::vector<std::vector<std::string>>{{"version=6"}});
  {
    ft::ResultsStore sqlite(file), postgres(url);
    CHECK(postgres.list_runs({}).size() == 4);
  }
  Reader sqlite(file), postgres(url);
  CHECK(rows_of(*postgres.connection, "SELECT version FROM schema_version") ==
        std::vector<std::vector<std::string>>{{"version=" + std::to_string(ft::kStoreSchemaVersion)}});
  for (const std::string sql : {"SELECT * FROM run_results ORDER BY run_id", "SELECT * FROM run_summary ORDER BY id",
                                "SELECT * FROM trials ORDER BY sweep_id, number",
                                "SELECT * FROM validation_rises ORDER BY run_id, first_epoch"}) {
    INFO(sql);
    const auto expected = rows_of(*sqlite.connection, sql);
    CHECK((expected.size() == 4 || sql.find("rises") != std::string::npos));
    CHECK(rows_of(*postgres.connection, sql) == expected);
  }
  check_kept_tables(*postgres.connection);
  check_kept_tables(*sqlite.connection);
  // The index of a version 6 store is rebuilt to carry the metric values, as a new store's does.
  CHECK(rows_of(*postgres.connection,
                "SELECT indexdef LIKE '%INCLUDE (value)%' AS carries FROM pg_indexes WHERE indexname = "
                "'metrics_by_run'") == std::vector<std::vector<std::string>>{{"carries=t"}});
}

TEST_CASE("eight processes share a PostgreSQL store: every row recorded, every trial taken once",
          "[store][pg][concurrency]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  store_workloads::eight_writers_record_every_row(new_database(server, "eight_writers"));
  TempDir dir;
  store_workloads::eight_workers_take_every_trial_once(new_database(server, "eight_workers"), dir);
}

TEST_CASE("a worker cut off from its PostgreSQL store gets its late rows refused", "[store][pg][sweep]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  const std::string url = new_database(server, "cut_off_worker");
  Reader reader(url);
  store_workloads::a_cut_off_workers_rows_are_refused(url,
                                                      [&](const std::string& sql) { reader.connection->execute(sql); });
}

TEST_CASE("a trial whose worker on another host fell silent is put back, judged by the server's clock",
          "[store][pg][sweep]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  const std::string url = new_database(server, "silent_worker");
  ft::ResultsStore store(url);
  const auto id = store.open_sweep({"demo", "x.toml", "f", "text", {}, "grid", "val_loss", "min", 1},
                                   {{0, "x = 0\n", 1, "grid"}, {1, "x = 1\n", 2, "grid"}});
  // Two workers of other hosts, whose process ids mean nothing here: one silent for ten minutes, one that has just
  // sent its heartbeat.
  Reader reader(url);
  reader.connection->execute(
      "UPDATE trials SET state = 'running', host = 'node-17', pid = 1, attempts = 1, heartbeat_at = "
      "to_char((clock_timestamp() - interval '10 minutes') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
      "WHERE number = 0");
  reader.connection->execute(
      "UPDATE trials SET state = 'running', host = 'node-18', pid = 1, attempts = 1, heartbeat_at = ftrun_now() "
      "WHERE number = 1");
  CHECK(store.claim_trial(id, std::chrono::seconds(300)) == 0);  // put back, and taken again here
  const auto trials = store.trials_of(id);
  CHECK(trials[0].attempts == 2);
  CHECK_THAT(trials[0].error, Contains("node-17 pid 1") && Contains("put back"));
  CHECK(trials[1].state == "running");  // node-18's: alive by its heartbeat
  CHECK(trials[1].attempts == 1);
  CHECK_FALSE(store.claim_trial(id, std::chrono::seconds(300)));
  // Only the worker holding a trial closes it: node-18's trial is not this process's to end, as a worker cut off
  // while its trial was taken again may not overwrite the new outcome.
  CHECK_FALSE(store.finish_trial(id, 1, "completed", std::nullopt, ""));
  CHECK(store.trials_of(id)[1].state == "running");
  CHECK(store.finish_trial(id, 0, "completed", std::nullopt, ""));
  CHECK(store.trials_of(id)[0].state == "completed");
}
