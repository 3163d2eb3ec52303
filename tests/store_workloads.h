#pragma once
// What the store must take from many processes at once, whichever its backend: each workload is run against an
// SQLite file (test_store_safety.cpp, test_sweep.cpp) and against a PostgreSQL database (test_postgres_store.cpp),
// and checks its outcome through the store itself.

#include "processes.h"
#include "store/results_store.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
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

}  // namespace store_workloads
