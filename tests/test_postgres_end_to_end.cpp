// The ftrun binary with a PostgreSQL store (issue 23) on a throw-away PostgreSQL 15 (postgres_server.h): real
// runs recorded into an SQLite store and merged into the server answer every query command the same from both,
// byte for byte; a run trains straight into the server; credentials never reach what ftrun records.
#include "ftrun_cli.h"
#include "postgres_server.h"
#include "scoped_environment.h"
#include "tcp_proxy.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <thread>

using Catch::Matchers::Contains;

namespace {

// The first value `sql` gives on `url`, through Debian's psql (PGPASSWORD is set by the test's server), or the
// error psql printed.
std::string psql(const std::string& url, const std::string& sql) {
  const auto result = run_command("/usr/lib/postgresql/15/bin/psql -X -tAq -d '" + url + "' -c \"" + sql + "\"");
  std::string value = result.output;
  while (!value.empty() && value.back() == '\n') value.pop_back();
  return value;
}

// Runs a shell command line in a thread of its own (Catch's checks stay in the test's thread), its exit code and
// output in `result` once joined.
std::thread in_background(const std::string& command_line, Result& result) {
  return std::thread([command_line, &result] {
    FILE* pipe = popen((command_line + " 2>&1").c_str(), "r");
    if (pipe == nullptr) return;
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, pipe)) result.output += buffer;
    const int status = pclose(pipe);
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  });
}

// How many epochs run N has recorded: append N.
const std::string kEpochsOfRun =
    "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch' AND name = 'train_loss' AND run_id = ";

// Waits, for up to 5 minutes, until `sql` gives a number at least `least` on `url`.
bool wait_for(const std::string& url, const std::string& sql, int least) {
  for (int i = 0; i < 3000; ++i) {
    const std::string value = psql(url, sql);
    if (!value.empty() && std::isdigit(static_cast<unsigned char>(value[0])) && std::stoi(value) >= least) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

TEST_CASE("every query command answers the same from a PostgreSQL store as from the SQLite store merged into it",
          "[e2e][pg]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  TempDir dir;
  ScopedEnvironment passfile("PGPASSFILE", dir / "none");
  const std::string file = dir / "ftrun.db", url = server.url();
  const auto experiment = write(dir, "tiny.toml", replaced(kTiny, "epochs = 2", "epochs = 4"));
  for (const std::string lr : {"0.05", "0.01"}) {
    const auto result = run(experiment + " --store " + file + " --set optimizer.lr=" + lr);
    REQUIRE(result.code == 0);
  }
  const auto merged = run("merge " + url + " " + file);
  INFO(merged.output);
  REQUIRE(merged.code == 0);
  CHECK_THAT(merged.output, Contains("2 run(s) added (0 already there)"));
  CHECK_THAT(run("merge " + url + " " + file).output, Contains("0 run(s) added (2 already there)"));

  for (const std::string query :
       {"runs --csv", "runs --json --where \"optimizer.lr < 0.02\"", "runs --order-by \"optimizer.lr desc\"",
        "runs --where \"val_loss.min < 10 and status = completed\" --order-by \"val_loss.argmin\"", "show 1", "show 2",
        "compare optimizer.lr --csv", "compare optimizer.lr", "overfit --patience 1 --csv", "overfit 2",
        "export 1 2 --format csv", "export 2"}) {
    const auto from_sqlite = run(query + " --store " + file), from_postgres = run(query + " --store " + url);
    INFO(query << "\nSQLite:\n" << from_sqlite.output << "\nPostgreSQL:\n" << from_postgres.output);
    CHECK(from_sqlite.code == 0);
    CHECK(from_postgres.code == 0);
    CHECK(from_postgres.output == from_sqlite.output);
  }
  const auto range_test = run_in(dir.path().string(), "lr-find " + experiment + " --steps 20 --store " + url);
  INFO(range_test.output);
  CHECK(range_test.code == 0);
  CHECK_THAT(range_test.output, Contains("recommended:"));
  const auto plot = run("plot 1 2 -o " + (dir / "curves.svg") + " --store " + url);
  CHECK(plot.code == 0);
  CHECK(std::filesystem::file_size(dir / "curves.svg") > 1000);

  // A run straight into the server (run 4, after lr-find's run 3): checkpoints in the folder given, the recorded
  // configuration free of any credential (there is none in the URL; the password stays in the environment).
  const auto direct =
      run(experiment + " --store " + url + " --set optimizer.lr=0.02 --checkpoint-dir " + (dir / "shared-checkpoints"));
  INFO(direct.output);
  REQUIRE(direct.code == 0);
  const auto listing = run("runs --csv --store " + url);
  CHECK_THAT(listing.output, Contains("\n4,tiny,") && Contains(",completed,"));
  CHECK(std::filesystem::exists(dir / "shared-checkpoints/run-4"));
  const auto exported = run("export 4 --store " + url);
  CHECK_THAT(exported.output, Contains("\"optimizer.lr\"") && !Contains(ftrun_test::PostgresServer::kPassword));
  const auto show = run("show 4 --store " + url);
  CHECK(show.code == 0);
  CHECK_THAT(show.output, Contains("train_loss"));

  // A sweep whose two workers pull trials from the server, and its status and comparison read from there.
  const auto sweep_file =
      write(dir, "sweep.toml",
            kTiny + "\n[sweep]\nmethod = \"grid\"\n[sweep.params]\n\"optimizer.lr\" = [0.05, 0.01, 0.02]\n");
  const auto sweep = run("sweep " + sweep_file + " --workers 2 --set experiment.threads=1 --store " + url);
  INFO(sweep.output);
  REQUIRE(sweep.code == 0);
  const auto trials = run("runs --sweep 1 --csv --status completed --store " + url);
  CHECK(std::count(trials.output.begin(), trials.output.end(), '\n') == 4);  // the header and three runs
  const auto status = run("sweep status 1 --store " + url);
  INFO(status.output);
  CHECK(status.code == 0);
  CHECK_THAT(status.output, Contains("completed"));
  CHECK(run("compare optimizer.lr --sweep 1 --store " + url).code == 0);
}

TEST_CASE(
    "a run trains on while the PostgreSQL server restarts and records every row, and past the limit it fails, "
    "its rows kept",
    "[e2e][pg][faults]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  TempDir dir;
  ScopedEnvironment passfile("PGPASSFILE", dir / "none");
  const std::string url = server.url();
  // Long enough (60 epochs, ~12 s here alone) that the server comes back, and the outage limit passes, while it
  // trains: with 12 epochs, on an idle machine, training ended before either.
  const auto experiment = write(dir, "long.toml", long_tiny(60, 300));

  // The server restarted after the first epoch, away for longer than a write's retries.
  Result restarted;
  std::thread training =
      in_background("cd '" + dir.path().string() + "' && " + kFtrun + " " + experiment + " --store " + url, restarted);
  const bool started = wait_for(url, kEpochsOfRun + "1", 1);
  CHECK(server.stop());
  std::this_thread::sleep_for(std::chrono::seconds(6));
  CHECK(server.start());
  training.join();
  REQUIRE(started);
  INFO(restarted.output);
  CHECK(restarted.code == 0);
  CHECK_THAT(restarted.output, Contains("training goes on, holding its rows") && Contains("answers again after"));
  CHECK(psql(url, "SELECT status FROM runs WHERE id = 1") == "completed");
  CHECK(psql(url, kEpochsOfRun + "1") == "60");  // no gap: the rows held while it was away are there
  CHECK(psql(url, "SELECT COUNT(*) FROM epoch_metrics WHERE run_id = 1 AND val_loss IS NOT NULL") == "60");

  // Away for longer than $FTRUN_STORE_OUTAGE: the run stops, its closing and held rows kept beside its
  // checkpoints, and recorded by the next ftrun that opens the store.
  Result given_up;
  std::thread second = in_background(
      "cd '" + dir.path().string() + "' && FTRUN_STORE_OUTAGE=2 " + kFtrun + " " + experiment + " --store " + url,
      given_up);
  const bool second_started = wait_for(url, kEpochsOfRun + "2", 1);
  CHECK(server.stop());
  second.join();
  CHECK(server.start());
  REQUIRE(second_started);
  INFO(given_up.output);
  CHECK(given_up.code == 5);
  CHECK_THAT(given_up.output,
             Contains("could not be reached for") && Contains("$FTRUN_STORE_OUTAGE") && Contains("is kept in"));
  CHECK(run_in(dir.path().string(), "runs --store " + url).code == 0);
  CHECK(psql(url, "SELECT status FROM runs WHERE id = 2") == "failed");
  CHECK_THAT(psql(url, "SELECT error FROM runs WHERE id = 2"), Contains("could not be reached"));
  CHECK(psql(url, kEpochsOfRun + "2") ==
        psql(url, "SELECT MAX(epoch) FROM metrics WHERE scope = 'epoch' AND run_id = 2"));

  // Once the server is back, the failed run resumes from its last recorded checkpoint and ends as if never stopped.
  const auto resumed = run_in(dir.path().string(), "resume 2 --store " + url);
  INFO(resumed.output);
  CHECK(resumed.code == 0);
  CHECK(psql(url, "SELECT status FROM runs WHERE id = 2") == "completed");
  CHECK(psql(url, kEpochsOfRun + "2") == "60");
}

TEST_CASE(
    "a sweep worker cut off from the server has its trial retried by another host's worker, and its late rows "
    "refused",
    "[e2e][pg][faults]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  TempDir dir;
  ScopedEnvironment passfile("PGPASSFILE", dir / "none");
  ScopedEnvironment stale("FTRUN_TRIAL_STALE", "3");  // a silent worker's trial is put back after 3 s, not 300
  const std::string url = server.url();
  // Worker A reaches the server through a relay the test cuts; worker B, "another host", directly. Each has its own
  // scratch folder (checkpoints, journals), as separate machines would.
  ftrun_test::TcpProxy proxy(server.port());
  const std::string through_proxy = "postgresql://ftrun@127.0.0.1:" + std::to_string(proxy.port()) + "/postgres";
  const auto sweep_file =
      write(dir, "sweep.toml",
            long_tiny(60, 300) + "\n[sweep]\nmethod = \"grid\"\n[sweep.params]\n\"optimizer.lr\" = [0.05]\n");
  for (const char* host : {"host-a", "host-b"}) std::filesystem::create_directories(dir / host);
  const auto worker = [&](const char* host, const std::string& store) {
    return "cd '" + (dir / host) + "' && " + kFtrun + " sweep " + sweep_file + " --set experiment.threads=1 --store " +
           store;
  };

  Result a;
  std::thread worker_a = in_background(worker("host-a", through_proxy), a);
  const bool a_started = wait_for(url, kEpochsOfRun + "1", 2);
  proxy.cut();
  const std::string rows_before_cut = psql(url, "SELECT COUNT(*) FROM metrics WHERE run_id = 1");
  std::this_thread::sleep_for(std::chrono::seconds(4));  // A silent for longer than $FTRUN_TRIAL_STALE

  Result b;
  std::thread worker_b = in_background(worker("host-b", url), b);
  const bool b_took_it = wait_for(url, kEpochsOfRun + "2", 1);  // the trial again, as run 2
  proxy.mend();                                                 // A reaches the server again while both still train
  worker_a.join();
  worker_b.join();
  REQUIRE(a_started);
  REQUIRE(b_took_it);
  INFO("worker A:\n" << a.output << "\nworker B:\n" << b.output);
  CHECK(a.code == 0);
  CHECK(b.code == 0);
  CHECK_THAT(a.output, Contains("given to another worker") && Contains("refused"));
  // A's run was closed for it when its trial was put back; nothing A sent after the cut is in it.
  CHECK(psql(url, "SELECT status FROM runs WHERE id = 1") == "interrupted");
  CHECK_THAT(psql(url, "SELECT error FROM runs WHERE id = 1"), Contains("sent no heartbeat") && Contains("put back"));
  CHECK(psql(url, "SELECT COUNT(*) FROM metrics WHERE run_id = 1") == rows_before_cut);
  // The trial is B's, with B's run, complete.
  CHECK(psql(url, "SELECT state || ' ' || run_id || ' ' || attempts FROM trials WHERE number = 0") == "completed 2 2");
  CHECK(psql(url, "SELECT status FROM runs WHERE id = 2") == "completed");
  CHECK(psql(url, kEpochsOfRun + "2") == "60");
  CHECK(psql(url, "SELECT COUNT(*) FROM runs") == "2");
}

TEST_CASE("three hosts' workers share one sweep on the server: 24 runs, each taken once, every row there",
          "[e2e][pg][concurrency]") {
  ftrun_test::TestServer server;
  if (server.unavailable()) return;
  TempDir dir;
  ScopedEnvironment passfile("PGPASSFILE", dir / "none");
  const std::string url = server.url();
  std::string rates;
  for (int i = 0; i < 24; ++i) rates += (i ? ", " : "") + std::to_string(0.01 + 0.001 * i);
  const auto sweep_file = write(
      dir, "sweep.toml", kTiny + "\n[sweep]\nmethod = \"grid\"\n[sweep.params]\n\"optimizer.lr\" = [" + rates + "]\n");
  // Three "hosts": separate processes, each in a scratch folder of its own, started together.
  std::vector<Result> hosts(3);
  std::vector<std::thread> workers;
  for (std::size_t h = 0; h < hosts.size(); ++h) {
    const std::string folder = dir / ("host-" + std::to_string(h));
    std::filesystem::create_directories(folder);
    workers.push_back(in_background(
        "cd '" + folder + "' && " + kFtrun + " sweep " + sweep_file + " --set experiment.threads=1 --store " + url,
        hosts[h]));
  }
  for (auto& worker : workers) worker.join();
  for (const auto& host : hosts) {
    INFO(host.output);
    CHECK(host.code == 0);
  }
  CHECK(psql(url, "SELECT COUNT(*) FROM trials WHERE state = 'completed' AND attempts = 1") == "24");
  CHECK(psql(url, "SELECT COUNT(DISTINCT run_id) FROM trials") == "24");
  CHECK(psql(url, "SELECT COUNT(*) FROM runs WHERE status = 'completed'") == "24");
  CHECK(psql(url, "SELECT COUNT(*) FROM runs") == "24");
  // Every run has all its rows: both epochs, and as many step rows as every other run.
  CHECK(psql(url, "SELECT COUNT(*) FROM epoch_metrics WHERE val_loss IS NOT NULL") == "48");
  CHECK(psql(url,
             "SELECT COUNT(DISTINCT n) || ' ' || MIN(n) FROM (SELECT COUNT(*) AS n FROM metrics WHERE scope = "
             "'step' GROUP BY run_id) AS steps") == "1 " + psql(url,
                                                                "SELECT COUNT(*) FROM metrics WHERE scope = "
                                                                "'step' AND run_id = 1"));
  // The work was shared: more than one host ran trials.
  CHECK(std::stoi(psql(url, "SELECT COUNT(DISTINCT pid) FROM runs")) > 1);
}
