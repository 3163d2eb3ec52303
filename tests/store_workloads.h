#pragma once
// What the store must take from many processes at once, whichever its backend: each workload is run against an
// SQLite file (test_store_safety.cpp, test_sweep.cpp) and against a PostgreSQL database (test_postgres_store.cpp),
// and checks its outcome through the store itself.

#include "processes.h"
#include "store/results_store.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace store_workloads {

/// Eight processes open the store at once (a new one, the first time), each records a run of 10 batches of 20
/// metric rows and closes it: every run completed, every row there.
inline void eight_writers_record_every_row(const std::string& location) {
  constexpr int kWriters = 8, kBatches = 10, kRowsPerBatch = 20;
  ft::StoreOptions options;
  options.busy_timeout = std::chrono::seconds(30);
  run_in_processes(kWriters, "writer", [&](int w) {
    ft::ResultsStore store(location, options);
    ft::NewRun run;
    run.name = "writer" + std::to_string(w);
    run.group_id = run.name + "-1";
    run.experiment_file = "exp.toml";
    run.config_toml = "[experiment]\nname = \"demo\"\n";
    run.device = "cpu";
    run.torch_version = "2.11.0";
    const auto id = store.begin_run(run);
    for (int b = 0; b < kBatches; ++b) {
      std::vector<ft::MetricRow> rows;
      for (int r = 0; r < kRowsPerBatch; ++r) rows.push_back({"step", 1, b * kRowsPerBatch + r, "train_loss", 0.5});
      store.log_metrics(id, rows);
    }
    store.finish_run(id, ft::RunStatus::completed);
  });
  ft::ResultsStore store(location);
  ft::RunFilter completed;
  completed.status = "completed";
  const auto runs = store.list_runs(completed);
  CHECK(runs.size() == static_cast<std::size_t>(kWriters));
  std::size_t rows = 0;
  for (const auto& run : runs) rows += store.metrics_of(run.id).size();
  CHECK(rows == static_cast<std::size_t>(kWriters * kBatches * kRowsPerBatch));
}

/// Eight worker processes claim the 40 trials of one sweep until none is left, each writing what it took to a file
/// in `dir`: no trial taken twice, none lost, all completed.
inline void eight_workers_take_every_trial_once(const std::string& location, const TempDir& dir) {
  constexpr int kWorkers = 8, kTrials = 40;
  std::int64_t sweep_id = 0;
  {
    ft::ResultsStore store(location);
    std::vector<ft::NewTrial> trials;
    for (int n = 0; n < kTrials; ++n) trials.push_back({n, "x = " + std::to_string(n) + "\n", 1, "grid"});
    bool created = false;
    sweep_id = store.open_sweep({"demo", "x.toml", "f1", "text", {}, "grid", "val_loss", "min", 1}, trials, &created);
    CHECK(created);
    CHECK(store.open_sweep({"demo", "x.toml", "f1", "text", {}, "grid", "val_loss", "min", 1}, trials, &created) ==
          sweep_id);
    CHECK_FALSE(created);
  }
  run_in_processes(kWorkers, "worker", [&](int w) {
    ft::ResultsStore store(location);
    std::ofstream taken(dir / ("taken-" + std::to_string(w)));
    while (const auto number = store.claim_trial(sweep_id, std::chrono::seconds(300))) {
      taken << *number << "\n";
      taken.flush();
      store.finish_trial(sweep_id, *number, "completed", std::nullopt, "");
    }
  });
  std::multiset<int> taken;
  for (int w = 0; w < kWorkers; ++w) {
    std::ifstream in(dir / ("taken-" + std::to_string(w)));
    for (int number; in >> number;) taken.insert(number);
  }
  CHECK(taken.size() == static_cast<std::size_t>(kTrials));                                      // none twice
  CHECK(std::set<int>(taken.begin(), taken.end()).size() == static_cast<std::size_t>(kTrials));  // none lost
  ft::ResultsStore store(location);
  for (const auto& trial : store.trials_of(sweep_id)) CHECK(trial.state == "completed");
}

/// A worker cut off from the store (a network partition) long enough for its trial to be put back: its run is
/// closed for it, and the rows and the closing it sends when it comes back are refused, not mixed into the run;
/// the trial's retry records its own run. The same fence keeps a run resumed by another process from this one's
/// rows. This process plays both workers: `execute` (SQL on the store) moves its heartbeat ten minutes back.
inline void a_cut_off_workers_rows_are_refused(const std::string& location,
                                               const std::function<void(const std::string&)>& execute) {
  using namespace std::chrono_literals;
  ft::ResultsStore store(location);
  const auto sweep =
      store.open_sweep({"demo", "x.toml", "f", "text", {}, "grid", "val_loss", "min", 2}, {{0, "x = 0\n", 1, "grid"}});
  REQUIRE(store.claim_trial(sweep, 300s) == 0);
  ft::NewRun run;
  run.name = "demo";
  run.group_id = ft::sweep_group(sweep);
  run.experiment_file = "x.toml";
  run.device = "cpu";
  run.torch_version = "2.11.0";
  const auto cut_off = store.begin_run(run);
  store.log_metrics(cut_off, {{"epoch", 1, 10, "train_loss", 1.0}});

  const std::time_t ten_minutes_ago = std::time(nullptr) - 600;
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&ten_minutes_ago));
  execute(std::string("UPDATE trials SET heartbeat_at = '") + stamp + "'");
  REQUIRE(store.claim_trial(sweep, 300s) == 0);  // put back, and taken by the next worker to ask
  CHECK(store.status_of(cut_off) == "interrupted");
  CHECK_THROWS_AS(store.log_metrics(cut_off, {{"epoch", 2, 20, "train_loss", 0.5}}), ft::RunNotHeld);
  CHECK_THROWS_AS(store.set_checkpoint(cut_off, "late.pt"), ft::RunNotHeld);
  CHECK_THROWS_AS(store.finish_run(cut_off, ft::RunStatus::completed, "", {{"final", 2, 20, "test_accuracy", 0.9}}),
                  ft::RunNotHeld);
  CHECK(store.metrics_of(cut_off).size() == 1);
  CHECK(store.status_of(cut_off) == "interrupted");

  const auto retry = store.begin_run(run);
  store.log_metrics(retry, {{"epoch", 1, 10, "train_loss", 0.8}});
  store.finish_run(retry, ft::RunStatus::completed, "", {});
  CHECK(store.finish_trial(sweep, 0, "completed", retry, ""));
  CHECK(store.metrics_of(retry).size() == 1);

  // A run another process took over (ftrun resume elsewhere) is that process's from then on.
  const auto resumed = store.begin_run(run);
  execute("UPDATE runs SET host = 'node-9', pid = 1 WHERE id = " + std::to_string(resumed));
  CHECK_THROWS_WITH(store.log_metrics(resumed, {{"epoch", 1, 10, "train_loss", 0.8}}),
                    Catch::Matchers::Contains("running in node-9 pid 1") && Catch::Matchers::Contains("refused"));
}

}  // namespace store_workloads
