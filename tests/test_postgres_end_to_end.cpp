// The ftrun binary with a PostgreSQL store (issue 23) on a throw-away PostgreSQL 15 (postgres_server.h): real
// runs recorded into an SQLite store and merged into the server answer every query command the same from both,
// byte for byte; a run trains straight into the server; credentials never reach what ftrun records.
#include "ftrun_cli.h"
#include "postgres_server.h"
#include "scoped_environment.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <algorithm>

using Catch::Matchers::Contains;

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
  const auto plot = run("plot 1 2 -o " + (dir / "curves.svg") + " --store " + url);
  CHECK(plot.code == 0);
  CHECK(std::filesystem::file_size(dir / "curves.svg") > 1000);

  // A run straight into the server: checkpoints in the folder given, the recorded configuration free of any
  // credential (there is none in the URL; the password stays in the environment).
  const auto direct =
      run(experiment + " --store " + url + " --set optimizer.lr=0.02 --checkpoint-dir " + (dir / "shared-checkpoints"));
  INFO(direct.output);
  REQUIRE(direct.code == 0);
  const auto listing = run("runs --csv --store " + url);
  CHECK_THAT(listing.output, Contains("\n3,tiny,") && Contains(",completed,"));
  CHECK(std::filesystem::exists(dir / "shared-checkpoints/run-3"));
  const auto exported = run("export 3 --store " + url);
  CHECK_THAT(exported.output, Contains("\"optimizer.lr\"") && !Contains(ftrun_test::PostgresServer::kPassword));
  const auto show = run("show 3 --store " + url);
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
