// The store's answers through the ftrun binary and the sqlite3 shell: compare, overfit, show, and every query
// docs/store.md documents (run as written, so the docs stay true).
#include "ftrun_cli.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <stb/stb_image.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

using Catch::Matchers::Contains;

namespace {

// The ```sql blocks of a Markdown file.
std::vector<std::string> sql_blocks(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string markdown = text.str();
  std::vector<std::string> blocks;
  const std::regex block("```sql\n([\\s\\S]*?)```");
  for (std::sregex_iterator it(markdown.begin(), markdown.end(), block), end; it != end; ++it) {
    blocks.push_back((*it)[1]);
  }
  return blocks;
}

}  // namespace

TEST_CASE("compare, overfit and show answer from a store of real runs, and the documented SQL runs", "[e2e][queries]") {
  TempDir dir;
  const auto store = dir / "ftrun.db";
  const auto experiment = write(dir, "tiny.toml", replaced(kTiny, "epochs = 2", "epochs = 4"));
  for (const std::string lr : {"0.05", "0.01"}) {
    for (const std::string seed : {"1", "2"}) {
      const auto result =
          run(experiment + " --store " + store + " --set optimizer.lr=" + lr + " --set experiment.seed=" + seed);
      REQUIRE(result.code == 0);
    }
  }
  const auto compare = run("compare optimizer.lr --store " + store);
  INFO(compare.output);
  CHECK(compare.code == 0);
  CHECK_THAT(compare.output, Contains("0.01                         2") && Contains("<- best") && Contains(" ± "));
  const auto overfit = run("overfit --patience 2 --store " + store);
  INFO(overfit.output);
  CHECK(overfit.code == 0);
  CHECK_THAT(overfit.output, Contains("gap@best") && Contains("lasted at least 2 evaluation(s)"));
  const auto listing = run("runs --store " + store);
  CHECK_THAT(listing.output, Contains(" seed ") && Contains("completed       2 "));
  CHECK(run("show 1 --store " + store).code == 0);
  const auto filtered = run("runs --store " + store + " --where \"optimizer.lr < 0.02 and seed = 2\" --csv");
  INFO(filtered.output);
  CHECK(filtered.code == 0);
  CHECK(std::count(filtered.output.begin(), filtered.output.end(), '\n') == 2);  // the header and run 4
  CHECK_THAT(filtered.output, Contains("\n4,tiny,"));
  const auto json = run("runs --store " + store + " --json --order-by \"val_loss.min asc\" --limit 1");
  CHECK_THAT(json.output, Contains("\"optimizer.lr\": 0.0") && Contains("\"params\""));
  const auto bad = run("runs --store " + store + " --where \"optimizer.lr <\"");
  CHECK(bad.code == 2);
  CHECK_THAT(bad.output, Contains("column 15: expected a value"));
  const auto exported = run("export 1 2 --format csv --store " + store);
  CHECK(exported.code == 0);
  CHECK_THAT(exported.output, Contains("run_id,kind,epoch,step,name,value") && Contains("1,param,,,optimizer.lr,") &&
                                  Contains("2,epoch,4,") && Contains(",val_loss,"));
  CHECK_THAT(run("export 1 --store " + store).output, Contains("\"metrics\"") && Contains("\"scope\": \"step\""));
  CHECK_THAT(run("overfit 99 --store " + store).output, Contains("no run 99"));
  auto lines = [](const std::string& text) { return std::count(text.begin(), text.end(), '\n'); };
  const auto compare_json = run("compare optimizer.lr --json --store " + store);
  CHECK(compare_json.code == 0);
  CHECK_THAT(compare_json.output, Contains("\"values\"") && Contains("\"best\": true") && Contains("\"mean\""));
  const auto compare_csv = run("compare optimizer.lr --csv --store " + store);
  CHECK(lines(compare_csv.output) == 3);  // the header and one row per value
  CHECK_THAT(compare_csv.output, Contains("stage,value,completed,failed,diverged,pruned,other,best_val_accuracy_mean"));
  const auto overfit_json = run("overfit --json --store " + store);
  CHECK_THAT(overfit_json.output, Contains("\"rule\"") && Contains("\"onset_epoch\"") && Contains("\"patience\": 3"));
  const auto overfit_where = run("overfit --csv --where \"optimizer.lr < 0.02\" --store " + store);
  INFO(overfit_where.output);
  CHECK(lines(overfit_where.output) == 3);  // the header and runs 3 and 4
  CHECK_THAT(overfit_where.output, Contains("\n3,tiny,") && Contains("\n4,tiny,"));
  CHECK(run("overfit 1 --where \"seed = 1\" --store " + store).code == 2);
  CHECK(run("compare optimizer.lr --json --csv --store " + store).code == 2);

  const auto blocks = sql_blocks(std::string(FT_SOURCE_DIR) + "/docs/store.md");
  REQUIRE_FALSE(blocks.empty());
  for (const auto& sql : blocks) {
    const auto file = write(dir, "query.sql", sql);
    const auto shell = run_command("sqlite3 -bail " + store + " < " + file);
    INFO(sql << "\n" << shell.output);
    CHECK(shell.code == 0);
    CHECK_FALSE(Contains("Error").match(shell.output));
  }
}

TEST_CASE("defaults reach run_params, and a resumed run trains with the recorded values", "[e2e][keys][resume]") {
  TempDir dir;
  const auto store = dir / "ftrun.db";
  // No momentum in the file: sgd's default (0) must still be recorded.
  const auto experiment = write(dir, "long.toml", replaced(long_tiny(3, 300), "momentum = 0.9\n", ""));
  CHECK(run_and_signal(experiment, store, "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'", SIGINT) == 130);
  {
    SQLite::Database db(store);
    auto value = [&](const std::string& key) {
      return db.execAndGet("SELECT value FROM run_params WHERE run_id = 1 AND key = '" + key + "'");
    };
    CHECK(value("optimizer.momentum").getDouble() == 0.0);
    CHECK(value("optimizer.nesterov").getInt() == 0);
    CHECK(value("backbone.layer_decay").getDouble() == 1.0);
    CHECK(value("dataset.crop_padding").getInt() == 4);
    CHECK(value("schedule.warmup_epochs").getDouble() == 0.0);
    CHECK(db.execAndGet("SELECT instr(config_toml, 'momentum = 0.0') > 0 FROM runs").getInt() == 1);
  }
  // The resume reads the recorded value, not sgd's default of today: a recorded value sgd refuses proves it.
  run_command("sqlite3 " + store + " \"UPDATE runs SET config_toml = replace(config_toml, 'momentum = 0.0', " +
              "'momentum = 1.5')\"");
  const auto resumed = run("resume 1 --store " + store);
  INFO(resumed.output);
  CHECK(resumed.code == 2);
  CHECK_THAT(resumed.output, Contains("optimizer.momentum: must be in [0, 1)"));
}

namespace {

// Pixels of a PNG that are not (near) white: what a browser drew.
std::size_t drawn_pixels(const std::string& png) {
  int width = 0, height = 0, channels = 0;
  unsigned char* pixels = stbi_load(png.c_str(), &width, &height, &channels, 3);
  if (!pixels) return 0;
  std::size_t drawn = 0;
  for (int i = 0; i < width * height; ++i) {
    if (pixels[3 * i] < 200 || pixels[3 * i + 1] < 200 || pixels[3 * i + 2] < 200) ++drawn;
  }
  stbi_image_free(pixels);
  return drawn;
}

// Opens an SVG in headless Chromium (Debian's, installed by scripts/setup) and screenshots it.
Result screenshot(const std::string& svg, const std::string& png) {
  return run_command(
      "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=960,600 "
      "--screenshot=" +
      png + " file://" + svg);
}

}  // namespace

TEST_CASE("plot draws curves and a learning-rate comparison as SVG a browser renders", "[e2e][plot]") {
  TempDir dir;
  const auto store = dir / "ftrun.db";
  const auto experiment = write(dir, "tiny.toml", replaced(kTiny, "epochs = 2", "epochs = 4\neval_every = 2"));
  for (const std::string lr : {"0.05", "0.01"}) {
    for (const std::string seed : {"1", "2"}) {
      REQUIRE(
          run(experiment + " --store " + store + " --set optimizer.lr=" + lr + " --set experiment.seed=" + seed).code ==
          0);
    }
  }
  REQUIRE(run(experiment + " --store " + store + " --set optimizer.lr=1e30").code == 1);  // diverges
  // Far too high but finite: losses over a wide range, drawn on a log scale.
  REQUIRE(run(experiment + " --store " + store + " --set optimizer.lr=1e9").code == 0);
  const auto curves = run("plot 1 2 5 6 -o " + (dir / "curves.svg") + " --store " + store);
  INFO(curves.output);
  CHECK(curves.code == 0);
  const auto lr = run("plot --compare optimizer.lr -o " + (dir / "lr.svg") + " --store " + store);
  INFO(lr.output);
  CHECK(lr.code == 0);
  std::ifstream curves_file(dir / "curves.svg"), lr_file(dir / "lr.svg");
  std::stringstream curves_text, lr_text;
  curves_text << curves_file.rdbuf();
  lr_text << lr_file.rdbuf();
  CHECK_THAT(curves_text.str(), Contains("run 1: tiny (completed)") && Contains("run 5: tiny (diverged)") &&
                                    Contains(": best epoch ") && Contains("log scale"));
  CHECK_THAT(lr_text.str(),
             Contains("optimizer.lr (log scale)") && Contains("run 5 diverged") && Contains("best optimizer.lr"));
  // Mistakes are refused with a usage error and write nothing.
  CHECK(run("plot -o " + (dir / "none.svg") + " --store " + store).code == 2);
  CHECK(run("plot 99 -o " + (dir / "none.svg") + " --store " + store).code == 2);
  CHECK(run("plot 1 -o " + (dir / "missing/x.svg") + " --store " + store).code == 2);
  CHECK_FALSE(std::filesystem::exists(dir / "none.svg"));
  for (const std::string name : {"curves", "lr"}) {
    INFO(name);
    const auto shot = screenshot(dir / (name + ".svg"), dir / (name + ".png"));
    INFO(shot.output);
    REQUIRE(shot.code == 0);
    CHECK(drawn_pixels(dir / (name + ".png")) > 5000);  // axes, labels, curves: not a blank or broken page
  }
}

namespace {

// The best validation accuracy of each trial of the store's sweep 1, by trial number.
std::map<int, double> sweep_results(const std::string& store) {
  SQLite::Database db(store);
  SQLite::Statement query(db,
                          R"(SELECT t.number, (SELECT MAX(val_accuracy) FROM epoch_metrics e WHERE e.run_id = t.run_id)
      FROM trials t WHERE t.sweep_id = 1 AND t.state = 'completed' ORDER BY t.number)");
  std::map<int, double> results;
  while (query.executeStep()) results[query.getColumn(0).getInt()] = query.getColumn(1).getDouble();
  return results;
}

}  // namespace

TEST_CASE("a sweep killed mid-trial and run again ends as an uninterrupted one, with one or two workers",
          "[e2e][sweep]") {
  TempDir dir;
  const auto experiment = write(dir, "sweep.toml", long_tiny(3, 300) + R"(
[sweep]
method = "grid"
metric = "val_accuracy"
[sweep.params]
"optimizer.lr" = [0.05, 0.01]
"head.dropout" = [0.0, 0.2]
)");
  const std::string args = "sweep " + experiment + " --set experiment.threads=1 --store ";
  const auto listed = run(args + (dir / "none.db") + " --dry-run");
  CHECK(listed.code == 0);
  CHECK_THAT(listed.output, Contains("4 trial(s)") && Contains("trial   3"));
  const auto narrowed = run(args + (dir / "none.db") + " --dry-run --set 'sweep.params.optimizer.lr=[0.02]'");
  CHECK_THAT(narrowed.output, Contains("2 trial(s)") && Contains("optimizer.lr = 0.02"));
  const auto whole = run(args + (dir / "whole.db"));
  INFO(whole.output);
  REQUIRE(whole.code == 0);
  const auto expected = sweep_results(dir / "whole.db");
  REQUIRE(expected.size() == 4);
  CHECK_THAT(whole.output, Contains("4 completed, 0 running, 0 waiting") && Contains("best so far: trial"));

  // kill -9 while the first trial trains, then the same command again.
  const std::string store = dir / "crashed.db";
  const pid_t child = fork();
  if (child == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    execl(kFtrun.c_str(), kFtrun.c_str(), "sweep", experiment.c_str(), "--set", "experiment.threads=1", "--store",
          store.c_str(), nullptr);
    _exit(127);
  }
  const bool training = wait_until(store, "SELECT COUNT(*) FROM epoch_metrics");
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(training);
  const auto again = run(args + store);
  INFO(again.output);
  CHECK(again.code == 0);
  CHECK(sweep_results(store) == expected);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT attempts FROM trials WHERE number = 0").getInt() == 2);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs WHERE status = 'interrupted'").getInt() == 1);
  CHECK(db.execAndGet("SELECT COUNT(DISTINCT group_id) FROM runs").getInt() == 1);  // all under the sweep
  CHECK(db.execAndGet("SELECT COUNT(*) FROM trials t JOIN run_params p ON p.run_id = t.run_id AND "
                      "p.key = 'sweep.trial' AND p.value = t.number")
            .getInt() == 4);

  const auto two = run(args + (dir / "two.db") + " --workers 2");
  INFO(two.output);
  CHECK(two.code == 0);
  CHECK(sweep_results(dir / "two.db") == expected);
  const auto status_line = run("sweep status --store " + (dir / "two.db"));
  CHECK_THAT(status_line.output, Contains("sweep 1: tiny") && Contains("4 completed"));
  // Run again when finished: nothing to do, the same sweep.
  const auto finished = run(args + (dir / "two.db"));
  CHECK(finished.code == 0);
  CHECK_THAT(finished.output, Contains("found (continuing it)"));
}

// Each trial's stored values, sampler and result: what a resumed sweep must reproduce.
std::map<int, std::string> trial_records(const std::string& store) {
  SQLite::Database db(store);
  SQLite::Statement query(db, R"(SELECT t.number, t.params || t.sampler || ' ' || t.state || ' ' ||
      COALESCE((SELECT MAX(val_accuracy) FROM epoch_metrics e WHERE e.run_id = t.run_id), '') FROM trials t
      ORDER BY t.number)");
  std::map<int, std::string> records;
  while (query.executeStep()) records[query.getColumn(0).getInt()] = query.getColumn(1).getString();
  return records;
}

TEST_CASE("a TPE sweep proposes each trial from the results so far, and after kill -9 proposes the same trials",
          "[e2e][sweep][tpe]") {
  TempDir dir;
  const std::string text = long_tiny(2, 150) + R"(
[sweep]
method = "tpe"
trials = 5
metric = "val_accuracy"
[sweep.params]
"optimizer.lr" = { log_uniform = [0.001, 0.1] }
"head.dropout" = { choice = [0.0, 0.2] }
[sweep.sampler]
startup_trials = 2
)";
  const auto experiment = write(dir, "tpe.toml", text);
  const std::string args = "sweep " + experiment + " --set experiment.threads=1 --store ";
  const auto listed = run(args + (dir / "none.db") + " --dry-run");
  CHECK(listed.code == 0);
  CHECK_THAT(listed.output, Contains("tpe, 5 trial(s), each proposed by the sampler when a worker asks"));
  const auto sharded = run(args + (dir / "none.db") + " --shard 0/2");
  CHECK(sharded.code == 2);
  CHECK_THAT(sharded.output, Contains("--shard: a tpe sweep proposes each trial from the results of all the others"));
  const auto misspelt = write(dir, "typo.toml", replaced(text, "startup_trials", "startup_trails"));
  const auto typo = run("sweep " + misspelt + " --store " + (dir / "none.db"));
  CHECK(typo.code == 2);
  CHECK_THAT(typo.output,
             Contains("unknown key 'startup_trails' in [sweep.sampler]") && Contains("did you mean 'startup_trials'"));

  const auto whole = run(args + (dir / "whole.db"));
  INFO(whole.output);
  REQUIRE(whole.code == 0);
  const auto expected = trial_records(dir / "whole.db");
  REQUIRE(expected.size() == 5);
  {
    SQLite::Database db(dir / "whole.db");
    // The first two at random (the startup trials), the rest by TPE, each within the space.
    CHECK(db.execAndGet("SELECT group_concat(sampler, ',') FROM (SELECT sampler FROM trials ORDER BY number)")
              .getString() == "random,random,tpe,tpe,tpe");
    CHECK(db.execAndGet("SELECT COUNT(*) FROM run_params WHERE key = 'optimizer.lr' AND value BETWEEN 0.001 AND 0.1")
              .getInt() == 5);
    CHECK(db.execAndGet("SELECT COUNT(DISTINCT params) FROM trials").getInt() == 5);
  }
  CHECK_THAT(whole.output, Contains("sampler") && Contains(" tpe ") && Contains("5 completed"));

  // kill -9 while the first trial TPE proposed trains, then the same command again: the same five trials.
  const std::string store = dir / "crashed.db";
  const pid_t child = fork();
  if (child == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    execl(kFtrun.c_str(), kFtrun.c_str(), "sweep", experiment.c_str(), "--set", "experiment.threads=1", "--store",
          store.c_str(), nullptr);
    _exit(127);
  }
  const bool training = wait_until(store, R"(SELECT COUNT(*) FROM epoch_metrics e JOIN run_params p
      ON p.run_id = e.run_id AND p.key = 'sweep.trial' AND p.value = 2)");
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(training);
  const auto again = run(args + store);
  INFO(again.output);
  CHECK(again.code == 0);
  CHECK(trial_records(store) == expected);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT attempts FROM trials WHERE number = 2").getInt() == 2);
}

TEST_CASE("asha prunes losing trials: recorded as pruned, with the epochs they ran", "[e2e][sweep]") {
  TempDir dir;
  const auto experiment = write(dir, "prune.toml", replaced(kTiny, "epochs = 2", "epochs = 3") + R"(
[sweep]
method = "grid"
[sweep.params]
"optimizer.lr" = [0.05, 0.00001, 0.02, 0.000001]
[sweep.pruner]
type = "asha"
grace_period = 1
reduction_factor = 2
)");
  const auto store = dir / "ftrun.db";
  const auto result = run("sweep " + experiment + " --store " + store);
  INFO(result.output);
  REQUIRE(result.code == 0);
  SQLite::Database db(store);
  const int pruned = db.execAndGet("SELECT COUNT(*) FROM trials WHERE state = 'pruned'").getInt();
  CHECK(pruned >= 1);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs WHERE status = 'pruned'").getInt() == pruned);
  // Each pruned run stopped before the last epoch and says where; none was evaluated on the test split.
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs r WHERE r.status = 'pruned' AND (SELECT MAX(epoch) FROM "
                      "epoch_metrics e WHERE e.run_id = r.id) < 3")
            .getInt() == pruned);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE name = 'pruned_at_epoch'").getInt() == pruned);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.status = 'pruned' AND "
                      "m.name = 'test_accuracy'")
            .getInt() == 0);
  CHECK_THAT(result.output, Contains(std::to_string(pruned) + " pruned") && Contains("asha: at rung epoch"));
  const auto compare = run("compare optimizer.lr --store " + store + " --csv");
  CHECK(compare.code == 0);
  // Every pruned run is counted as pruned (the sixth column), never averaged with the runs that finished.
  int counted = 0;
  std::istringstream lines(compare.output);
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string field;
    for (int column = 0; column <= 5 && std::getline(fields, field, ','); ++column) {
      if (column == 5) counted += std::stoi(field);
    }
  }
  CHECK(counted == pruned);
}

TEST_CASE("every experiment shipped reads as an experiment, or as a sweep with ftrun sweep", "[e2e][sweep]") {
  for (const auto& entry : std::filesystem::directory_iterator(std::string(FT_SOURCE_DIR) + "/experiments")) {
    if (entry.path().extension() != ".toml") continue;
    INFO(entry.path());
    const std::string file = entry.path().string();
    const bool sweep = file.find("sweep") != std::string::npos;
    const auto result = run((sweep ? "sweep " : "run ") + file + " --dry-run");
    INFO(result.output);
    CHECK(result.code == 0);
    if (sweep) CHECK_THAT(result.output, Contains("6 trial(s)"));
  }
}

namespace {

// Each completed trial's best validation loss and its values, by trial number, for the store's only sweep.
std::map<int, std::string> trial_outcomes(const std::string& store) {
  SQLite::Database db(store);
  SQLite::Statement query(db, R"(SELECT t.number, t.params || printf('%.6f', (SELECT MIN(val_loss) FROM epoch_metrics e
      WHERE e.run_id = t.run_id)) FROM trials t WHERE t.state = 'completed' ORDER BY t.number)");
  std::map<int, std::string> outcomes;
  while (query.executeStep()) outcomes[query.getColumn(0).getInt()] = query.getColumn(1).getString();
  return outcomes;
}

}  // namespace

TEST_CASE("shards of a sweep merged into one store equal the sweep run whole, for grid and random", "[e2e][sweep]") {
  for (const std::string table : {"method = \"grid\"\n[sweep.params]\n\"optimizer.lr\" = [0.05, 0.01, 0.02]\n",
                                  "method = \"random\"\ntrials = 3\nseed = 4\n[sweep.params]\n"
                                  "\"optimizer.lr\" = { log_uniform = [0.001, 0.1] }\n"}) {
    INFO(table);
    TempDir dir;
    const auto experiment = write(dir, "sweep.toml", kTiny + "\n[sweep]\n" + table);
    const std::string args = "sweep " + experiment + " --set experiment.threads=1 --store ";
    REQUIRE(run(args + (dir / "whole.db")).code == 0);
    REQUIRE(run(args + (dir / "a.db") + " --shard 0/2").code == 0);
    REQUIRE(run(args + (dir / "b.db") + " --shard 1/2").code == 0);
    CHECK(trial_outcomes(dir / "a.db").size() == 2);  // trials 0 and 2
    const auto merged = run("merge " + (dir / "all.db") + " " + (dir / "a.db") + " " + (dir / "b.db"));
    INFO(merged.output);
    CHECK(merged.code == 0);
    CHECK(trial_outcomes(dir / "all.db") == trial_outcomes(dir / "whole.db"));
    CHECK(trial_outcomes(dir / "all.db").size() == 3);
    // Merging again adds nothing; the runs follow their sweep's group.
    const auto again = run("merge " + (dir / "all.db") + " " + (dir / "a.db"));
    CHECK_THAT(again.output, Contains("0 run(s) added (2 already there)"));
    SQLite::Database db(dir / "all.db");
    CHECK(db.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 3);
    CHECK(db.execAndGet("SELECT COUNT(*) FROM runs WHERE group_id = 'sweep-1'").getInt() == 3);
    CHECK(db.execAndGet("SELECT COUNT(*) FROM epoch_metrics").getInt() == 6);
  }
  TempDir dir;
  CHECK(run("merge " + (dir / "out.db") + " " + (dir / "missing.db")).code == 5);
  const auto old_store = dir / "old.db";
  REQUIRE(
      run_command("sqlite3 " + old_store + " < " + std::string(FT_SOURCE_DIR) + "/tests/fixtures/store_v2.sql").code ==
      0);
  const auto refused = run("merge " + (dir / "out.db") + " " + old_store);
  CHECK(refused.code == 5);
  CHECK_THAT(refused.output, Contains("its schema version is 2") && Contains("to upgrade it, then merge"));
  const auto experiment =
      write(dir, "s.toml", kTiny + "\n[sweep]\nmethod = \"grid\"\n[sweep.params]\n\"optimizer.lr\" = [1]\n");
  const auto bad_shard = run("sweep " + experiment + " --shard 3/2 --store " + (dir / "s.db"));
  CHECK(bad_shard.code == 2);
  CHECK_THAT(bad_shard.output, Contains("--shard 3/2: expected I/N"));
}

TEST_CASE("lr-find ramps the real run's rate, records the curve with its suggestions, and plots it", "[e2e][lr_find]") {
  TempDir dir;
  const auto experiment = write(dir, "tiny.toml", kTiny);
  const auto store = dir / "ftrun.db";
  const auto result = run("lr-find " + experiment + " --steps 40 --start 1e-5 --end 10 --store " + store);
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK_THAT(result.output, Contains("recommended:") && Contains("valley") && Contains("learning rate, log scale"));
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT stage || ' ' || status FROM runs").getString() == "lr_find completed");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE name LIKE 'suggested_lr_%'").getInt() >= 1);
  const int steps = db.execAndGet("SELECT COUNT(*) FROM metrics WHERE scope = 'step' AND name = 'lr/head'").getInt();
  CHECK(steps >= 5);
  CHECK(steps <= 40);
  // The head's rate rose exponentially from --start.
  CHECK(db.execAndGet("SELECT MIN(value) FROM metrics WHERE name = 'lr/head'").getDouble() == Approx(1e-5));
  CHECK(run("plot 1 -o " + (dir / "lr.svg") + " --store " + store).code == 0);
  std::ifstream svg(dir / "lr.svg");
  std::stringstream text;
  text << svg.rdbuf();
  CHECK_THAT(text.str(), Contains("Learning-rate range test") && Contains("valley: "));
  // A stage that starts from an earlier stage's weights cannot be tested alone; it says what to do instead.
  const auto staged = run("lr-find " + std::string(FT_SOURCE_DIR) + "/experiments/quickstart.toml --stage finetune");
  CHECK(staged.code == 2);
  CHECK_THAT(staged.output, Contains("stage:pretrain") && Contains("backbone.weights=run:ID"));
  CHECK(run("lr-find " + experiment + " --start 1 --end 0.1").code == 2);
}
