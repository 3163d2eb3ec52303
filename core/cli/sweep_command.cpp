#include "cli/sweep_command.h"

#include "cli/commands.h"
#include "cli/training_request.h"
#include "config/sweep.h"
#include "log/log.h"
#include "log/printable.h"
#include "store/results_store.h"
#include "training/cpu_threads.h"

#include <ftsdk/error.h>

#include <fmt/format.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

extern char** environ;

namespace ft {
namespace {

void print_trials(const SweepPlan& plan) {
  const bool later = proposes_as_it_goes(plan.config);
  std::printf("sweep of %s: %s, %lld trial(s)%s, objective %s (%s)\n", plan.experiment_file.c_str(),
              plan.config.method.c_str(),
              static_cast<long long>(later ? plan.config.trials : static_cast<std::int64_t>(plan.trials.size())),
              later ? ", each proposed by the sampler when a worker asks, from the results so far" : "",
              plan.config.metric.c_str(),
              plan.config.direction.empty() ? "the task's direction" : plan.config.direction.c_str());
  for (const auto& trial : plan.trials) {
    std::printf("  trial %3lld  seed %-10llu  %s\n", static_cast<long long>(trial.number),
                static_cast<unsigned long long>(trial.seed), one_line(trial_values_text(trial)).c_str());
  }
}

// The signal that asked the sweep to stop, forwarded to its workers (a terminal's Ctrl-C reaches them anyway).
volatile sig_atomic_t stop_signal_seen = 0;
void remember_signal(int signal) { stop_signal_seen = signal; }

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

// Starts `workers` processes of this ftrun, each running `ftrun sweep-worker SWEEP`, and waits for all of them.
// Returns the exit code: 0 when all ended well, else the first failure's.
int run_workers(std::int64_t sweep_id, const std::string& store, const SweepOptions& options) {
  // Each worker its share of the cores this sweep may use (or OMP_NUM_THREADS each), not all of them: workers that
  // all take every core slow each other down several times over (OpenMP threads spin while they wait).
  const int threads = default_thread_count(static_cast<int>(options.workers));
  const auto gpus = split(options.gpus, ',');
  char self[4096] = {};
  const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) throw Error("cannot find the ftrun executable to start workers (/proc/self/exe)");
  struct sigaction action {};
  action.sa_handler = remember_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::vector<pid_t> children;
  for (int w = 0; w < options.workers; ++w) {
    std::vector<std::string> args = {"ftrun", "sweep-worker", std::to_string(sweep_id), "--store",
                                     store,   "--threads",    std::to_string(threads)};
    if (options.verbose) args.push_back("-v");
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<std::string> environment;
    for (char** entry = environ; *entry; ++entry) {
      if (!gpus.empty() && std::strncmp(*entry, "CUDA_VISIBLE_DEVICES=", 21) == 0) continue;
      environment.emplace_back(*entry);
    }
    if (!gpus.empty()) environment.push_back("CUDA_VISIBLE_DEVICES=" + gpus[static_cast<std::size_t>(w) % gpus.size()]);
    std::vector<char*> envp;
    for (auto& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);
    pid_t child = 0;
    if (posix_spawn(&child, self, nullptr, nullptr, argv.data(), envp.data()) != 0) {
      throw Error(std::string("cannot start a sweep worker: ") + std::strerror(errno));
    }
    log::info(fmt::format("sweep {}: worker {} started (pid {}, {} CPU thread(s){})", sweep_id, w + 1, child, threads,
                          gpus.empty() ? "" : ", GPU " + gpus[static_cast<std::size_t>(w) % gpus.size()]));
    children.push_back(child);
  }
  int code = kExitOk;
  int forwarded = 0;
  std::size_t left = children.size();
  while (left > 0) {
    int status = 0;
    const pid_t done = waitpid(-1, &status, 0);
    if (done < 0) {
      if (errno == EINTR) {
        if (stop_signal_seen && forwarded != stop_signal_seen) {
          forwarded = stop_signal_seen;
          for (const pid_t child : children) kill(child, forwarded);
        }
        continue;
      }
      break;
    }
    if (std::find(children.begin(), children.end(), done) == children.end()) continue;
    --left;
    const int worker_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (worker_code != 0) {
      log::warn(fmt::format("sweep {}: worker pid {} {} {}", sweep_id, done,
                            WIFEXITED(status) ? "exited with" : "was killed by signal",
                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status)));
      if (code == kExitOk) code = worker_code;
    }
  }
  if (stop_signal_seen) return 128 + stop_signal_seen;
  return code;
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  const auto total = static_cast<long long>(seconds + 0.5);
  return fmt::format("{}:{:02}:{:02}", total / 3600, (total / 60) % 60, total % 60);
}

// "I/N" → {I, N}, checked.
std::pair<std::int64_t, std::int64_t> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  try {
    if (slash != std::string::npos) {
      std::size_t used = 0;
      const std::int64_t index = std::stoll(text.substr(0, slash), &used);
      const bool whole_index = used == slash;
      const std::int64_t count = std::stoll(text.substr(slash + 1), &used);
      if (whole_index && used == text.size() - slash - 1 && count >= 1 && index >= 0 && index < count) {
        return {index, count};
      }
    }
  } catch (const std::exception&) {
  }
  throw ConfigError("--shard " + text + ": expected I/N with 0 <= I < N, e.g. --shard 0/4 (Slurm: --array=0-3 and " +
                    "--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)");
}

}  // namespace

int command_merge(const std::string& output, const std::vector<std::string>& inputs) {
  ResultsStore store(resolve_store_path(output, ""), store_options_from_environment());
  for (const auto& input : inputs) {
    const MergeReport report = store.merge_from(input);
    std::printf("%s: %lld run(s) added (%lld already there), %lld sweep(s) added, %lld trial(s) taken\n", input.c_str(),
                static_cast<long long>(report.runs), static_cast<long long>(report.runs_already_there),
                static_cast<long long>(report.sweeps), static_cast<long long>(report.trials));
  }
  return kExitOk;
}

int command_sweep(const SweepOptions& options) {
  if (options.workers < 1 || options.workers > 256) throw ConfigError("--workers must be between 1 and 256");
  const SweepPlan plan = load_sweep(options.experiment, options.overrides);
  if (options.dry_run) {
    print_trials(plan);
    return kExitOk;
  }
  if (!options.shard.empty()) parse_shard(options.shard);  // a mistake is said before anything runs
  if (!options.shard.empty() && proposes_as_it_goes(plan.config)) {
    throw ConfigError("--shard: a " + plan.config.method +
                      " sweep proposes each trial from the results of all the others, which a shard cannot see; run "
                      "every worker against one store instead (--workers N, or several `ftrun sweep` on a shared "
                      "store)");
  }
  const ExperimentPlan first = trial_plan(plan, plan.check_trial);
  // Built once, as its runs would be, before anything is recorded (plugin keys are known only to plugins).
  TrainingRequest check;
  check.command = TrainingRequest::Command::check_sweep;
  check.experiment = options.experiment;
  check.overrides = options.overrides;
  check.store = options.store;
  check.verbose = options.verbose;
  std::string primary_direction;
  check.primary_direction = &primary_direction;
  if (const int code = run_training(check); code != kExitOk) return code;
  const std::string direction = plan.config.direction.empty() ? primary_direction : plan.config.direction;
  ResultsStore store(resolve_store_path(options.store, first.store_path), store_options_from_environment());
  NewSweep sweep{first.runs.front().name, plan.experiment_file, plan.fingerprint,   plan.text,
                 plan.overrides,          plan.config.method,   plan.config.metric, direction,
                 plan.config.max_retries};
  std::vector<NewTrial> trials;
  const auto [shard, shards] =
      options.shard.empty() ? std::pair<std::int64_t, std::int64_t>{0, 1} : parse_shard(options.shard);
  for (const auto& trial : plan.trials) {
    if (trial.number % shards == shard) {
      trials.push_back({trial.number, trial_values_text(trial), trial.seed, plan.config.method});
    }
  }
  if (trials.empty() && !proposes_as_it_goes(plan.config)) {
    std::printf("shard %lld/%lld of a sweep of %zu trial(s) has no trials\n", static_cast<long long>(shard),
                static_cast<long long>(shards), plan.trials.size());
    return kExitOk;
  }
  bool created = false;
  const std::int64_t sweep_id = store.open_sweep(sweep, trials, &created);
  log::info(fmt::format("sweep {} {} in {}: {} trial(s){}; run the same command again to finish it after a crash",
                        sweep_id, created ? "recorded" : "found (continuing it)", store.path(),
                        proposes_as_it_goes(plan.config) ? static_cast<std::size_t>(plan.config.trials) : trials.size(),
                        shards > 1 ? fmt::format(" (shard {}/{} of {})", shard, shards, plan.trials.size()) : ""));
  int code = kExitOk;
  if (options.workers == 1) {
    TrainingRequest request;
    request.command = TrainingRequest::Command::sweep_worker;
    request.sweep_id = sweep_id;
    request.store = store.path();
    request.verbose = options.verbose;
    code = run_training(request);
  } else {
    code = run_workers(sweep_id, store.path(), options);
  }
  std::printf("\n");
  command_sweep_status(sweep_id, store.path());
  return code;
}

int command_sweep_status(std::optional<std::int64_t> sweep_id, const std::string& store_path) {
  ResultsStore store(resolve_store_path(store_path, ""), store_options_from_environment());
  store.close_abandoned_runs();
  if (!sweep_id) {
    const auto sweeps = store.list_sweeps();
    if (sweeps.empty()) {
      std::printf("no sweeps in %s\n", store.path().c_str());
      return kExitOk;
    }
    sweep_id = sweeps.front().id;
  }
  const auto sweep = store.find_sweep(*sweep_id);
  if (!sweep)
    throw ConfigError(fmt::format("no sweep {} in {} (ftrun sweep status lists the newest)", *sweep_id, store.path()));
  const auto trials = store.trials_of(*sweep_id);
  std::map<std::string, int> counts;
  const TrialRow* best = nullptr;
  for (const auto& trial : trials) {
    ++counts[trial.state];
    if (!trial.objective) continue;
    const bool better = !best || (sweep->direction == "min" ? *trial.objective < *best->objective
                                                            : *trial.objective > *best->objective);
    if (better) best = &trial;
  }
  // A sampler that proposes as workers ask has not recorded its later trials yet: they are waiting too.
  std::int64_t unproposed = 0;
  if (sweep->method != "grid" && sweep->method != "random") {
    const SweepPlan plan = parse_sweep(sweep->definition, sweep->experiment_file, sweep->overrides);
    unproposed = std::max<std::int64_t>(0, plan.config.trials - static_cast<std::int64_t>(trials.size()));
  }
  const auto times = store.trial_seconds(*sweep_id);
  double mean = 0;
  for (const double t : times) mean += t / static_cast<double>(times.size());
  const int running = counts["running"], waiting = counts["waiting"] + static_cast<int>(unproposed);
  const double eta = times.empty() ? NAN : mean * (waiting + running * 0.5) / std::max(1, running);
  std::printf("sweep %lld: %s (%s), %s, objective %s %s, %zu trial(s)\n", static_cast<long long>(sweep->id),
              printable(sweep->name).c_str(), printable(sweep->experiment_file).c_str(), sweep->method.c_str(),
              sweep->direction == "min" ? "lowest" : "highest", sweep->metric.c_str(), trials.size());
  std::printf("  %d completed, %d running, %d waiting, %d pruned, %d failed; time left about %s\n", counts["completed"],
              running, waiting, counts["pruned"], counts["failed"],
              waiting + running == 0 ? "0:00:00" : duration_text(eta).c_str());
  if (best) {
    std::printf("  best so far: trial %lld (run %lld), %s = %.4f: %s\n", static_cast<long long>(best->number),
                static_cast<long long>(best->run_id.value_or(0)), sweep->metric.c_str(), *best->objective,
                one_line(best->params).c_str());
  }
  std::printf("\n  %5s  %-9s %10s %6s %8s  %-8s %s\n", "trial", "state", sweep->metric.c_str(), "run", "attempts",
              "sampler", "values");
  for (const auto& trial : trials) {
    std::printf("  %5lld  %-9s %10s %6s %8lld  %-8s %s%s\n", static_cast<long long>(trial.number), trial.state.c_str(),
                trial.objective ? fmt::format("{:.4f}", *trial.objective).c_str() : "-",
                trial.run_id ? std::to_string(*trial.run_id).c_str() : "-", static_cast<long long>(trial.attempts),
                trial.sampler.empty() ? "-" : printable(trial.sampler).c_str(), one_line(trial.params).c_str(),
                trial.error.empty() ? "" : ("  (" + trial.error + ")").c_str());
  }
  if (unproposed > 0) {
    std::printf("  (%lld more to be proposed by %s as workers ask)\n", static_cast<long long>(unproposed),
                sweep->method.c_str());
  }
  return kExitOk;
}

}  // namespace ft
