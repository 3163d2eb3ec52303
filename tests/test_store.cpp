#include "store/results_store.h"
#include "store/schema.h"
#include "temp_dir.h"

#include <ftsdk/error.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

using Catch::Matchers::Contains;

namespace {

ft::NewRun sample_run() {
  ft::NewRun run;
  run.name = "demo";
  run.group_id = "demo-1";
  run.experiment_file = "exp.toml";
  run.config_toml = "[experiment]\nname = \"demo\"\n";
  run.seed = 7;
  run.device = "cpu";
  run.threads = 2;
  run.torch_version = "2.11.0";
  ft::ParamValue lr;
  lr.data = 0.01;
  ft::ParamValue type;
  type.data = std::string("sgd");
  run.params = {{"optimizer.lr", lr}, {"optimizer.type", type}};
  run.plugins = {{"optimizer", "sgd", "/x/ft_sgd.so", "sgd", "1.0.0"}};
  return run;
}

}  // namespace

TEST_CASE("a new store has the documented schema, WAL mode and a version", "[store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "sub/ftrun.db");
  SQLite::Database db(dir / "sub/ftrun.db");
  CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == ft::kStoreSchemaVersion);
  for (const char* name : {"runs", "run_params", "run_plugins", "metrics", "epoch_metrics", "run_results",
                           "run_summary", "evaluations", "validation_rises", "overfitting"}) {
    SQLite::Statement query(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = ?");
    query.bind(1, name);
    REQUIRE(query.executeStep());
    CHECK(query.getColumn(0).getInt() == 1);
  }
  // Reopening an existing store is harmless.
  ft::ResultsStore again(dir / "sub/ftrun.db");
}

TEST_CASE("a run goes from running to completed with its params, plugins and metrics", "[store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  const auto id = store.begin_run(sample_run());
  CHECK(store.status_of(id) == "running");
  store.log_metrics(id, {{"epoch", 1, 10, "train_loss", 1.0},
                         {"epoch", 1, 10, "val_loss", 0.9},
                         {"epoch", 1, 10, "val_accuracy", 0.5},
                         {"epoch", 2, 20, "train_loss", 0.5},
                         {"epoch", 2, 20, "val_loss", 1.1},
                         {"epoch", 2, 20, "val_accuracy", 0.6}});
  store.finish_run(id, ft::RunStatus::completed);
  CHECK(store.status_of(id) == "completed");

  const auto runs = store.list_runs();
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].best_val_accuracy == Approx(0.6));
  CHECK(runs[0].best_val_loss == Approx(0.9));
  CHECK(runs[0].epochs == 2);
  CHECK_THAT(runs[0].key_params, Contains("optimizer.lr=0.01"));

  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT value FROM run_params WHERE key = 'optimizer.lr'").getDouble() == 0.01);
  CHECK(db.execAndGet("SELECT library FROM run_plugins").getString() == "/x/ft_sgd.so");
  CHECK(db.execAndGet("SELECT ended_at IS NOT NULL FROM runs").getInt() == 1);
  // Epoch 2: validation loss rose while training loss fell.
  CHECK(db.execAndGet("SELECT onset_epoch FROM overfitting WHERE run_id = 1").getInt() == 2);
}

TEST_CASE("a failed run is recorded as failed with its error", "[store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  const auto id = store.begin_run(sample_run());
  store.finish_run(id, ft::RunStatus::failed, "the training loss became nan");
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "failed");
  CHECK(db.execAndGet("SELECT error FROM runs").getString() == "the training loss became nan");
  ft::RunFilter filter;
  filter.status = "completed";
  CHECK(store.list_runs(filter).empty());
}

TEST_CASE("runs left running by a dead process are closed as interrupted", "[store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  const auto id = store.begin_run(sample_run());
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  {
    SQLite::Database db(dir / "ftrun.db", SQLite::OPEN_READWRITE);
    db.exec("UPDATE runs SET pid = " + std::to_string(child));
  }
  const auto live = store.begin_run(sample_run());
  CHECK(store.close_abandoned_runs() == 1);
  CHECK(store.status_of(id) == "interrupted");
  CHECK(store.status_of(live) == "running");
}

TEST_CASE("a file that is not a database is refused, not overwritten", "[store]") {
  TempDir dir;
  { std::ofstream(dir / "ftrun.db") << "these are not the bytes of an SQLite database, just text\n"; }
  CHECK_THROWS_AS(ft::ResultsStore(dir / "ftrun.db"), ft::StoreError);
  CHECK_THROWS_WITH(ft::ResultsStore(dir / "ftrun.db"), Contains("not an SQLite database"));
  std::ifstream in(dir / "ftrun.db");
  std::string first;
  std::getline(in, first);
  CHECK_THAT(first, Contains("these are not the bytes"));
}

TEST_CASE("a store that cannot be created names the path", "[store]") {
  TempDir dir;
  { std::ofstream(dir / "plain-file") << "x"; }
  CHECK_THROWS_WITH(ft::ResultsStore(dir / "plain-file/ftrun.db"), Contains("cannot create the folder"));
}

TEST_CASE("a store from a newer ftrun is refused", "[store]") {
  TempDir dir;
  {
    SQLite::Database db(dir / "ftrun.db", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("PRAGMA user_version = 99");
  }
  CHECK_THROWS_WITH(ft::ResultsStore(dir / "ftrun.db"), Contains("schema version 99, newer than this ftrun"));
}

TEST_CASE("the store path comes from the command line, the experiment, the environment, the default", "[store]") {
  CHECK(ft::resolve_store_path("a.db", "b.db") == "a.db");
  CHECK(ft::resolve_store_path("", "b.db") == "b.db");
  unsetenv("FTRUN_STORE");
  CHECK(ft::resolve_store_path("", "") == "results/ftrun.db");
  setenv("FTRUN_STORE", "/tmp/env.db", 1);
  CHECK(ft::resolve_store_path("", "") == "/tmp/env.db");
  unsetenv("FTRUN_STORE");
}
