// Store benchmarks (issue 8): what recording metrics costs a training step, and how fast the queries answer over
// a store of realistic size. Run by bench/store_scale.sh; numbers are in docs/performance.md.
//
//   ftrun_store_bench record STORE [EPOCHS STEPS]   per-step cost of recording, batched per epoch and per step
//                                                   (STORE: an SQLite file, or a postgresql:// database)
//   ftrun_store_bench generate STORE RUNS EPOCHS STEPS   a store of synthetic runs with realistic curves
//   ftrun_store_bench claim STORE WORKERS TRIALS   WORKERS connections (threads) take and close the TRIALS trials
//                                                  of one sweep as fast as they can: the time a claim takes
#include "store/postgres_connection.h"
#include "store/results_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

ft::NewRun bench_run(const std::string& name, std::uint64_t seed) {
  ft::NewRun run;
  run.name = name;
  run.group_id = name + "-bench";
  run.experiment_file = "bench";
  run.config_toml = "";
  run.seed = seed;
  run.device = "cpu";
  run.threads = 1;
  run.torch_version = "bench";
  run.params = {{"optimizer.lr", ft::to_param_value(0.01)}};
  return run;
}

// The rows an epoch's end writes (its results, which the store's triggers summarise per run: epoch_metrics,
// run_results, validation_rises), after the step rows of its last step.
void epoch_rows(std::vector<ft::MetricRow>& rows, std::int64_t epoch, std::int64_t step) {
  const double e = static_cast<double>(epoch);
  for (const auto& [name, value] : std::vector<std::pair<const char*, double>>{{"train_loss", 1.0 / e},
                                                                               {"train_accuracy", 1.0 - 0.5 / e},
                                                                               {"val_loss", 1.0 / e + 0.01 * e},
                                                                               {"val_accuracy", 0.9 - 0.5 / e},
                                                                               {"lr", 1e-3},
                                                                               {"seconds", 60.0}}) {
    rows.push_back({"epoch", epoch, step, name, value});
  }
}

// The rows one optimizer step writes in a fine-tuning run with a backbone and a head group.
void step_rows(std::vector<ft::MetricRow>& rows, std::int64_t epoch, std::int64_t step) {
  rows.push_back({"step", epoch, step, "train_loss", 1.0 / static_cast<double>(step)});
  rows.push_back({"step", epoch, step, "lr/backbone", 1e-4});
  rows.push_back({"step", epoch, step, "lr/head", 1e-3});
}

int record(const std::string& path, std::int64_t epochs, std::int64_t steps) {
  if (!ft::is_postgres_url(path)) std::filesystem::remove(path);
  ft::ResultsStore store(path);
  // As the trainer does it: one transaction per epoch.
  auto batched = store.begin_run(bench_run("batched", 0));
  auto start = Clock::now();
  for (std::int64_t epoch = 1; epoch <= epochs; ++epoch) {
    std::vector<ft::MetricRow> rows;
    for (std::int64_t s = 1; s <= steps; ++s) step_rows(rows, epoch, (epoch - 1) * steps + s);
    epoch_rows(rows, epoch, epoch * steps);
    store.log_metrics(batched, rows);
  }
  const double per_epoch = seconds_since(start) / static_cast<double>(epochs * steps);
  // What a writer that commits every step would pay.
  auto unbatched = store.begin_run(bench_run("unbatched", 0));
  start = Clock::now();
  for (std::int64_t epoch = 1; epoch <= epochs; ++epoch) {
    for (std::int64_t s = 1; s <= steps; ++s) {
      std::vector<ft::MetricRow> rows;
      step_rows(rows, epoch, (epoch - 1) * steps + s);
      if (s == steps) epoch_rows(rows, epoch, epoch * steps);
      store.log_metrics(unbatched, rows);
    }
  }
  const double per_step = seconds_since(start) / static_cast<double>(epochs * steps);
  std::printf("recording 3 metric rows per step and 6 per epoch, %lld epochs x %lld steps:\n",
              static_cast<long long>(epochs), static_cast<long long>(steps));
  std::printf("  one transaction per epoch (ftrun): %8.2f us per step\n", per_epoch * 1e6);
  std::printf("  one transaction per step:          %8.2f us per step (%.0fx)\n", per_step * 1e6, per_step / per_epoch);
  return 0;
}

// A store of `runs` runs shaped like a learning-rate study: five rates x seeds x two stages, validation loss
// falling then rising from an onset epoch, some runs diverged or failed.
int generate(const std::string& path, int runs, int epochs, int steps) {
  std::filesystem::remove(path);
  { ft::ResultsStore create(path); }
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  db.exec("PRAGMA synchronous = OFF");
  SQLite::Transaction transaction(db);
  SQLite::Statement run_insert(db, R"(INSERT INTO runs (id, name, stage, group_id, status, started_at, ended_at,
      experiment_file, config_toml, seed, device, threads, ftrun_version, torch_version, host, pid)
      VALUES (?, ?, ?, ?, ?, '2026-11-30T00:00:00Z', '2026-11-30T01:00:00Z', 'bench.toml', '', ?, 'cpu', 2,
              '0.1.0', '2.11.0', 'bench', ?))");
  SQLite::Statement param_insert(db, "INSERT INTO run_params (run_id, key, value) VALUES (?, ?, ?)");
  SQLite::Statement metric_insert(db, "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)");
  const double rates[] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2};
  std::mt19937 random(7);
  std::normal_distribution<double> noise(0, 0.01);
  auto metric = [&](int run, const char* scope, int epoch, std::int64_t step, const std::string& name, double v) {
    metric_insert.bind(1, run);
    metric_insert.bind(2, scope);
    metric_insert.bind(3, epoch);
    metric_insert.bind(4, static_cast<std::int64_t>(step));
    metric_insert.bind(5, name);
    metric_insert.bind(6, v);
    metric_insert.exec();
    metric_insert.reset();
  };
  const auto start = Clock::now();
  for (int id = 1; id <= runs; ++id) {
    const double lr = rates[id % 5];
    const int seed = (id / 5) % 10;
    const bool finetune = id % 2 == 0;
    const char* status = id % 97 == 0 ? "diverged" : id % 89 == 0 ? "failed" : "completed";
    run_insert.bind(1, id);
    run_insert.bind(2, "study");
    run_insert.bind(3, finetune ? "finetune" : "pretrain");
    run_insert.bind(4, fmt::format("study-{}", id / 10));
    run_insert.bind(5, status);
    run_insert.bind(6, seed);
    run_insert.bind(7, id);  // a process of its own: `ftrun merge` tells runs apart by start, host and process
    run_insert.exec();
    run_insert.reset();
    std::vector<std::pair<std::string, double>> params = {
        {"optimizer.lr", lr}, {"experiment.seed", seed}, {"train.epochs", epochs}, {"train.batch_size", 64}};
    for (int k = 0; params.size() < 45; ++k) params.emplace_back(fmt::format("plugin.key{}", k), k);
    for (const auto& [key, value] : params) {
      param_insert.bind(1, id);
      param_insert.bind(2, key);
      param_insert.bind(3, value);
      param_insert.exec();
      param_insert.reset();
    }
    const int onset = 10 + static_cast<int>(random() % static_cast<unsigned>(epochs - 10));
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      const double train_loss = 2.0 * std::exp(-0.05 * epoch * lr * 1e3) + noise(random);
      const double val_loss = train_loss + 0.1 + (epoch > onset ? 0.01 * (epoch - onset) : 0.0) + noise(random);
      for (int s = 1; s <= steps; ++s) {
        const std::int64_t step = static_cast<std::int64_t>(epoch - 1) * steps + s;
        metric(id, "step", epoch, step, "train_loss", train_loss + noise(random));
        metric(id, "step", epoch, step, "lr/backbone", lr * 0.1);
        metric(id, "step", epoch, step, "lr/head", lr);
      }
      const std::int64_t step = static_cast<std::int64_t>(epoch) * steps;
      metric(id, "epoch", epoch, step, "train_loss", train_loss);
      metric(id, "epoch", epoch, step, "train_accuracy", 1 - train_loss / 3);
      metric(id, "epoch", epoch, step, "val_loss", val_loss);
      metric(id, "epoch", epoch, step, "val_accuracy", 1 - val_loss / 3);
      metric(id, "epoch", epoch, step, "lr", lr);
      metric(id, "epoch", epoch, step, "lr/backbone", lr * 0.1);
      metric(id, "epoch", epoch, step, "lr/head", lr);
      metric(id, "epoch", epoch, step, "images_per_second", 5000);
      metric(id, "epoch", epoch, step, "seconds", 1);
    }
  }
  transaction.commit();
  std::printf("generated %d runs x %d epochs x %d steps (%lld metric rows) in %.0f s\n", runs, epochs, steps,
              static_cast<long long>(db.execAndGet("SELECT COUNT(*) FROM metrics").getInt64()), seconds_since(start));
  return 0;
}

// Sweep workers at their busiest: every claim is followed at once by the trial's closing, with no training in
// between, so the workers meet in the store as often as they ever can. Checks that no trial was taken twice.
int claim(const std::string& path, int workers, int trials) {
  std::int64_t sweep = 0;
  {
    ft::ResultsStore store(path);
    std::vector<ft::NewTrial> waiting;
    for (int i = 0; i < trials; ++i) waiting.push_back({i, "x = " + std::to_string(i) + "\n", 1, "grid"});
    const std::string name = "claims-" + std::to_string(std::random_device{}());
    sweep = store.open_sweep({name, "bench.toml", name, "", {}, "grid", "val_loss", "min", 0}, waiting);
  }
  std::mutex mutex;
  std::multiset<std::int64_t> taken;
  std::vector<double> latencies;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      ft::ResultsStore store(path);
      for (;;) {
        const auto asked = Clock::now();
        const auto number = store.claim_trial(sweep, std::chrono::seconds(300));
        const double seconds = seconds_since(asked);
        if (!number) return;
        store.finish_trial(sweep, *number, "completed", std::nullopt, "");
        const std::lock_guard<std::mutex> lock(mutex);
        taken.insert(*number);
        latencies.push_back(seconds);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double total = seconds_since(start);
  std::sort(latencies.begin(), latencies.end());
  const auto percentile = [&](double p) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<std::size_t>(p * static_cast<double>(latencies.size())))];
  };
  std::set<std::int64_t> distinct(taken.begin(), taken.end());
  std::printf(
      "%d workers took %zu trials (%zu distinct, of %d) in %.2f s: %.0f claims/s; a claim took %.1f ms "
      "(median), %.1f ms (99th percentile), %.1f ms (longest)\n",
      workers, taken.size(), distinct.size(), trials, total, static_cast<double>(taken.size()) / total,
      1e3 * percentile(0.5), 1e3 * percentile(0.99), 1e3 * latencies.back());
  return taken.size() == static_cast<std::size_t>(trials) && distinct.size() == taken.size() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() >= 2 && args[0] == "record") {
      return record(args[1], args.size() > 2 ? std::stoll(args[2]) : 20, args.size() > 3 ? std::stoll(args[3]) : 100);
    }
    if (args.size() == 4 && args[0] == "claim") return claim(args[1], std::stoi(args[2]), std::stoi(args[3]));
    if (args.size() == 5 && args[0] == "generate") {
      return generate(args[1], std::stoi(args[2]), std::stoi(args[3]), std::stoi(args[4]));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ftrun_store_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr,
               "usage: ftrun_store_bench record STORE [EPOCHS STEPS]\n"
               "       ftrun_store_bench generate STORE RUNS EPOCHS STEPS\n"
               "       ftrun_store_bench claim STORE WORKERS TRIALS\n");
  return 2;
}
