// Sweeps: the [sweep] table, its trials fixed by (seed, trial number), and trials taken from the store exactly
// once by any number of processes, put back when their worker dies.
#include "config/sweep.h"
#include "processes.h"
#include "store/results_store.h"
#include "store_workloads.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <set>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

const std::string kExperiment = R"([experiment]
name = "demo"

[backbone]
type = "convnet"

[dataset]
type = "fashion_mnist"

[head]
type = "linear"

[optimizer]
type = "sgd"
lr = 0.1

[train]
epochs = 2
)";

ft::SweepPlan sweep_of(const std::string& table) { return ft::parse_sweep(kExperiment + table, "sweep.toml", {}); }

std::string error_of(const std::string& table) {
  try {
    sweep_of(table);
  } catch (const ft::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

double number(const ft::ParamValue& value) {
  if (auto* d = std::get_if<double>(&value.data)) return *d;
  return static_cast<double>(std::get<std::int64_t>(value.data));
}

}  // namespace

TEST_CASE("a grid runs every combination, the last parameter fastest, each trial a valid experiment", "[sweep]") {
  const auto plan = sweep_of(R"(
[sweep]
method = "grid"
metric = "val_accuracy"
[sweep.params]
optimizer.lr = [0.01, 0.1, 1.0]
"train.batch_size" = [16, 32]
)");
  REQUIRE(plan.trials.size() == 6);
  CHECK(plan.config.direction == "max");
  CHECK(plan.trials[1].values[0].key == "optimizer.lr");
  CHECK(number(plan.trials[1].values[0].value) == 0.01);
  CHECK(number(plan.trials[1].values[1].value) == 32);
  CHECK(number(plan.trials[5].values[0].value) == 1.0);
  const auto run = ft::trial_plan(plan, plan.trials[5]).runs[0];
  CHECK(run.train.batch_size == 32);
  CHECK(run.optimizer.params.required<double>("lr") == 1.0);
  CHECK(run.seed == plan.trials[5].seed);
  CHECK(plan.trials[0].seed != plan.trials[1].seed);
  CHECK(ft::trial_values_text(plan.trials[5]) == "optimizer.lr = 1.0\ntrain.batch_size = 32\n");
}

TEST_CASE("random trials depend only on the sweep seed and the trial number", "[sweep]") {
  const std::string table = R"(
[sweep]
method = "random"
trials = 50
seed = 7
[sweep.params]
"optimizer.lr" = { log_uniform = [1e-4, 1e-1] }
"train.epochs" = { int = [1, 3] }
"optimizer.momentum" = { choice = [0.0, 0.9] }
"train.clip_grad_norm" = { uniform = [0.5, 1.0] }
)";
  const auto a = sweep_of(table), b = sweep_of(table);
  std::set<std::int64_t> epochs;
  for (std::size_t i = 0; i < a.trials.size(); ++i) {
    CHECK(ft::trial_values_text(a.trials[i]) == ft::trial_values_text(b.trials[i]));
    CHECK(a.trials[i].seed == b.trials[i].seed);
    const double lr = number(a.trials[i].values[0].value);
    CHECK(lr >= 1e-4);
    CHECK(lr <= 1e-1);
    epochs.insert(std::get<std::int64_t>(a.trials[i].values[1].value.data));
    const double clip = number(a.trials[i].values[3].value);
    CHECK(clip >= 0.5);
    CHECK(clip < 1.0);
  }
  CHECK(epochs == std::set<std::int64_t>{1, 2, 3});  // int bounds are inclusive
  CHECK(a.fingerprint == b.fingerprint);
  const auto other = sweep_of(std::string(table).replace(table.find("seed = 7"), 8, "seed = 8"));
  CHECK(ft::trial_values_text(other.trials[0]) != ft::trial_values_text(a.trials[0]));
  CHECK(other.fingerprint != a.fingerprint);
}

TEST_CASE("sweep mistakes name their position and the nearest valid word", "[sweep]") {
  CHECK_THAT(error_of("\n[sweep]\nmethod = \"grid\"\n[sweep.params]\n\"train.epochz\" = [1, 2]\n"),
             Contains("sweep.toml:23:") && Contains("unknown key 'epochz' in [train]; did you mean 'epochs'?"));
  CHECK_THAT(error_of("\n[sweep]\nmethod = \"grid\"\n[sweep.params]\n\"optimizer.lr\" = { log_uniform = [0.1, 1] }\n"),
             Contains("a grid needs a list of values"));
  CHECK_THAT(
      error_of("\n[sweep]\nmethod = \"random\"\ntrials = 2\n[sweep.params]\noptimizer.lr = { loguniform = [1, 2] }\n"),
      Contains("unknown distribution 'loguniform'; did you mean 'log_uniform'?"));
  CHECK_THAT(error_of("\n[sweep]\nmethod = \"random\"\n[sweep.params]\n\"optimizer.lr\" = [1, 2]\n"),
             Contains("[sweep] needs the key 'trials'"));
  CHECK_THAT(error_of("\n[sweep]\nmethod = \"grid\"\nmetrik = \"val_loss\"\n[sweep.params]\n\"optimizer.lr\" = [1]\n"),
             Contains("unknown key 'metrik' in [sweep]; did you mean 'metric'?"));
  CHECK_THAT(
      error_of(
          "\n[sweep]\nmethod = \"random\"\ntrials = 2\n[sweep.params]\n\"optimizer.lr\" = { log_uniform = [0, 1] }\n"),
      Contains("log_uniform needs low > 0"));
  CHECK_THAT(error_of("\n[sweep]\nmethod = \"grid\"\n"), Contains("needs [sweep.params]"));
  CHECK_THROWS_WITH(ft::parse_sweep(kExperiment, "plain.toml", {}), Contains("no [sweep] table"));
  // ftrun run refuses a sweep file rather than run one arbitrary point of it.
  CHECK(ft::parse_experiment(kExperiment + "\n[sweep]\nmethod = \"grid\"\n", "x.toml").has_sweep);
}

TEST_CASE("a sweep changed with --set sweep.KEY: its method, trials, parameters' lists and fingerprint", "[sweep]") {
  const std::string text = kExperiment + R"(
[sweep]
method = "grid"
[sweep.params]
optimizer.lr = [0.01, 0.1]
"train.batch_size" = [16, 32]
)";
  const auto as_written = ft::parse_sweep(text, "sweep.toml", {});
  REQUIRE(as_written.trials.size() == 4);
  // A grid made random, with its trials counted; a list replaced, whether the file nests it or quotes it.
  const auto changed = ft::parse_sweep(text, "sweep.toml",
                                       {"sweep.method=random", "sweep.trials=5", "sweep.seed=3",
                                        "sweep.params.optimizer.lr=[0.5]", "sweep.params.train.batch_size=[8]"});
  CHECK(changed.config.method == "random");
  CHECK(changed.trials.size() == 5);
  REQUIRE(changed.config.params.size() == 2);
  for (const auto& trial : changed.trials) {
    CHECK(ft::trial_values_text(trial) == "optimizer.lr = 0.5\ntrain.batch_size = 8\n");
  }
  CHECK(changed.fingerprint != as_written.fingerprint);
  // A parameter the file did not vary is added; the experiment's own overrides still apply to every trial.
  const auto added = ft::parse_sweep(text, "sweep.toml", {"sweep.params.train.epochs=[1, 3]", "train.epochs=7"});
  CHECK(added.trials.size() == 8);
  CHECK(ft::trial_plan(added, added.trials[0]).runs[0].train.epochs == 1);
  const auto plain = ft::parse_sweep(text, "sweep.toml", {"train.eval_every=2"});
  CHECK(ft::trial_plan(plain, plain.trials[0]).runs[0].train.eval_every == 2);
  // Mistakes name the assignment and the nearest valid word.
  const auto error = [&](const std::string& assignment) {
    try {
      ft::parse_sweep(text, "sweep.toml", {assignment});
    } catch (const ft::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK_THAT(error("sweep.trails=5"),
             Contains("--set sweep.trails=5") && Contains("unknown key 'trails' in [sweep]; did you mean 'trials'?"));
  CHECK_THAT(error("sweep.params.train.epochz=[1]"),
             Contains("--set sweep.params.train.epochz") && Contains("did you mean 'epochs'?"));
  CHECK_THAT(error("sweep.params.optimizer.lr=0.1"), Contains("expected a list of values"));
}

TEST_CASE("a sweep's direction defaults by its metric, and to its task's for the primary metric", "[sweep]") {
  const std::string params = "[sweep.params]\n\"optimizer.lr\" = [0.1, 0.2]\n";
  auto direction = [&](const std::string& lines) {
    return sweep_of("\n[sweep]\nmethod = \"grid\"\n" + lines + params).config.direction;
  };
  CHECK(direction("metric = \"val_loss\"\n") == "min");
  CHECK(direction("metric = \"val_accuracy\"\n") == "max");
  CHECK(direction("metric = \"val_primary\"\n").empty());  // perplexity falls, accuracy rises: the task says
  CHECK(direction("metric = \"val_primary\"\ndirection = \"max\"\n") == "max");
}

TEST_CASE("a sweep parameter nested 100,000 deep is refused with its position, not a crash", "[sweep]") {
  std::string parts = "a";
  for (int i = 1; i < 100000; ++i) parts += ".a";
  CHECK_THAT(error_of("\n[sweep]\nmethod = \"grid\"\n[sweep.params]\n" + parts + " = [1, 2]\n"),
             StartsWith("sweep.toml:23:1: a dotted key with more than 64 parts"));
  CHECK_THAT(
      error_of("\n[sweep]\nmethod = \"grid\"\n[sweep.params]\n\"optimizer.lr\" = " + std::string(100000, '[') + "\n"),
      StartsWith("sweep.toml:23:82: arrays or inline tables nested more than 64 deep"));
}

TEST_CASE("eight processes take every trial of a sweep exactly once", "[sweep][store][concurrency]") {
  TempDir dir;
  store_workloads::eight_workers_take_every_trial_once(dir / "sweep.db", dir);
}

TEST_CASE("a worker cut off from its SQLite store gets its late rows refused", "[sweep][store]") {
  TempDir dir;
  const std::string path = dir / "sweep.db";
  store_workloads::a_cut_off_workers_rows_are_refused(path, [&](const std::string& sql) {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec(sql);
  });
}

TEST_CASE("a trial whose worker died is put back, and failed once its retries are used", "[sweep][store]") {
  TempDir dir;
  const std::string path = dir / "sweep.db";
  ft::ResultsStore store(path);
  const auto id = store.open_sweep({"demo", "x.toml", "f", "text", {}, "grid", "val_loss", "min", 1},
                                   {{0, "x = 0\n", 1, "grid"}, {1, "x = 1\n", 2, "grid"}});
  // A worker of this host whose process is gone: a pid no process has (above the kernel's pid_max).
  auto abandon = [&](std::int64_t number) {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("UPDATE trials SET state = 'running', pid = 99999999, attempts = attempts + 1, heartbeat_at = '" +
            std::string("2026-01-01T00:00:00Z") +
            "', host = (SELECT host FROM runs LIMIT 1) WHERE number = " + std::to_string(number));
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    db.exec("UPDATE trials SET host = '" + std::string(host) + "' WHERE number = " + std::to_string(number));
  };
  abandon(0);
  CHECK(store.claim_trial(id, std::chrono::seconds(300)) == 0);  // put back, and taken again at once
  auto trials = store.trials_of(id);
  CHECK(trials[0].state == "running");
  CHECK(trials[0].attempts == 2);
  abandon(0);  // dies again: attempts 3 > 1 retry
  CHECK(store.claim_trial(id, std::chrono::seconds(300)) == 1);
  trials = store.trials_of(id);
  CHECK(trials[0].state == "failed");
  CHECK_THAT(trials[0].error, Contains("stopped before the trial ended") && Contains("no retries left"));
  // A worker stopped by a signal gives its trial back without using an attempt.
  store.release_trial(id, 1);
  trials = store.trials_of(id);
  CHECK(trials[1].state == "waiting");
  CHECK(trials[1].attempts == 0);
  CHECK(store.claim_trial(id, std::chrono::seconds(300)) == 1);
  CHECK_FALSE(store.claim_trial(id, std::chrono::seconds(300)));
}

TEST_CASE("the median pruner stops a trial worse than the median of completed ones, after its startup", "[sweep]") {
  ft::PrunerConfig median;
  median.type = "median";
  median.startup_trials = 3;
  median.warmup_epochs = 2;
  CHECK_FALSE(ft::median_decision(median, 2, 0.9, {0.5, 0.6}, true));       // two completed: still starting up
  CHECK_FALSE(ft::median_decision(median, 1, 0.9, {0.5, 0.6, 0.7}, true));  // warm-up epoch
  CHECK_THAT(*ft::median_decision(median, 2, 0.9, {0.5, 0.6, 0.7}, true), Contains("median 0.6000"));
  CHECK_FALSE(ft::median_decision(median, 2, 0.55, {0.5, 0.6, 0.7}, true));
  CHECK_FALSE(ft::median_decision(median, 2, 0.9, {0.5, 0.6, 0.7}, false));  // higher is better: kept
  CHECK(ft::median_decision(median, 2, std::nan(""), {0.5, 0.6, 0.7}, true));
}

TEST_CASE("asha decides at rungs only, keeping the best 1/reduction_factor of the trials there", "[sweep]") {
  ft::PrunerConfig asha;
  asha.type = "asha";
  asha.grace_period = 1;
  asha.reduction_factor = 3;
  CHECK(ft::asha_rung(asha, 0, 1) == 1);
  CHECK_FALSE(ft::asha_rung(asha, 1, 2));  // rungs at 1, 3, 9
  CHECK(ft::asha_rung(asha, 2, 3) == 3);
  CHECK(ft::asha_rung(asha, 2, 4) == 3);  // eval_every = 2: the first evaluation past the rung decides
  CHECK_FALSE(ft::asha_decision(asha, 1, 0.9, {0.9, 0.1}, true));  // fewer trials than the factor: continue
  CHECK_FALSE(ft::asha_decision(asha, 1, 0.1, {0.9, 0.5, 0.1}, true));
  CHECK(ft::asha_decision(asha, 1, 0.5, {0.9, 0.5, 0.1}, true));
  CHECK_FALSE(ft::asha_decision(asha, 1, 0.3, {0.9, 0.5, 0.1, 0.7, 0.3, 0.6}, true));  // best 2 of 6 kept
  CHECK(ft::asha_decision(asha, 1, 0.5, {0.9, 0.5, 0.1, 0.7, 0.3, 0.6}, true));
}

TEST_CASE("the store's pruning decision reads the runs of the same sweep and stage as recorded now", "[sweep][store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  auto run_with = [&](const std::string& group, const std::vector<double>& val_loss, ft::RunStatus status) {
    ft::NewRun run;
    run.name = "demo";
    run.stage = "finetune";
    run.group_id = group;
    run.experiment_file = "x.toml";
    run.device = "cpu";
    const auto id = store.begin_run(run);
    std::vector<ft::MetricRow> rows;
    for (std::size_t e = 0; e < val_loss.size(); ++e) {
      rows.push_back({"epoch", static_cast<std::int64_t>(e + 1), 0, "val_loss", val_loss[e]});
    }
    store.log_metrics(id, rows);
    store.finish_run(id, status, "");
    return id;
  };
  for (const double start : {0.5, 0.6, 0.7})
    run_with("sweep-1", {start, start - 0.1, start - 0.2}, ft::RunStatus::completed);
  run_with("sweep-2", {0.1, 0.1, 0.1}, ft::RunStatus::completed);  // another sweep: not compared with
  const auto bad = run_with("sweep-1", {0.9, 0.8}, ft::RunStatus::running);
  ft::PrunerConfig median;
  median.type = "median";
  median.startup_trials = 3;
  median.warmup_epochs = 1;
  const auto decision = store.prune_decision(median, "sweep-1", "finetune", bad, 2, "val_loss", "min");
  REQUIRE(decision);
  CHECK_THAT(*decision, Contains("best 0.8000 by epoch 2") && Contains("median 0.5000 of 3"));
  CHECK_FALSE(store.prune_decision(median, "sweep-1", "pretrain", bad, 2, "val_loss", "min"));  // other stage
  ft::PrunerConfig none;
  CHECK_FALSE(store.prune_decision(none, "sweep-1", "finetune", bad, 2, "val_loss", "min"));
  CHECK_THROWS_AS(store.prune_decision(median, "sweep-1", "finetune", bad, 2, "val_loss; DROP TABLE runs", "min"),
                  ft::StoreError);
}

TEST_CASE("a TPE sweep, or a sampler plugin's, proposes its trials later and is checked with a random draw",
          "[sweep][tpe]") {
  const auto plan = sweep_of(R"(
[sweep]
method = "tpe"
trials = 30
[sweep.params]
"optimizer.lr" = { log_uniform = [1e-4, 1e-1] }
"train.epochs" = { int = [1, 5] }
"optimizer.type" = ["sgd", "adam"]
[sweep.sampler]
startup_trials = 5
)");
  CHECK(plan.trials.empty());
  CHECK(ft::proposes_as_it_goes(plan.config));
  REQUIRE(plan.check_trial.values.size() == 3);
  // The sampler sees each value in its own representation: numbers, and a list value's index.
  const std::string text = ft::trial_values_text(plan.check_trial);
  const auto values = ft::proposal_values(plan.config, text);
  CHECK(ft::trial_values_text(ft::trial_from_proposal(plan.config, 0, values)) == text);
  CHECK_THROWS_WITH(ft::trial_from_proposal(plan.config, 3, {1.0, 2.0, 0.0}),
                    Contains("proposed 1.000000 for 'optimizer.lr' in trial 3, outside what sweep.toml:"));
  CHECK_THROWS_WITH(ft::trial_from_proposal(plan.config, 3, {0.01, 2.5, 0.0}), Contains("'train.epochs'"));
  CHECK_THROWS_WITH(ft::trial_from_proposal(plan.config, 3, {0.01, 2.0, 2.0}), Contains("'optimizer.type'"));
  CHECK(ft::make_builtin_sweep_sampler(plan.config, true) != nullptr);

  CHECK(!ft::proposes_as_it_goes(
      sweep_of("[sweep]\nmethod = \"grid\"\n[sweep.params]\n\"optimizer.lr\" = [0.1]\n").config));
  CHECK_THAT(error_of("[sweep]\nmethod = \"tpee\"\ntrials = 3\n[sweep.params]\n\"optimizer.lr\" = [0.1]\n"),
             Contains("did you mean 'tpe'"));
  CHECK_THAT(error_of("[sweep]\nmethod = \"tpe\"\n[sweep.params]\n\"optimizer.lr\" = [0.1]\n"), Contains("trials"));
  // Another name is a sampler plugin's: known only once plugins are loaded (ftrun sweep checks it then).
  const auto plugin = sweep_of("[sweep]\nmethod = \"halton\"\ntrials = 3\n[sweep.params]\n\"optimizer.lr\" = [0.1]\n");
  CHECK(ft::make_builtin_sweep_sampler(plugin.config, true) == nullptr);
  CHECK_THAT(
      error_of("[sweep]\nmethod = \"grid\"\n[sweep.params]\n\"optimizer.lr\" = [0.1]\n[sweep.sampler]\nx = 1\n"),
      Contains("sweep.toml:24:1: unknown key 'x' in [sweep.sampler] for method \"grid\" (it has no parameters)"));
}
