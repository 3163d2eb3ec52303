#pragma once
// Running the real ftrun binary from tests: a tiny real experiment, and a helper that captures the output.

#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace ftrun_test {

inline const std::string kFtrun = FTRUN_BINARY;

// A tiny but real experiment: two classes, 30 images each, a 4-channel convnet, two epochs.
inline const std::string kTiny = R"([experiment]
name = "tiny"
seed = 1
device = "cpu"

[backbone]
type = "convnet"
width = 4

[dataset]
type = "fashion_mnist"
classes = [0, 1]
samples_per_class = 30
validation_fraction = 0.02

[head]
type = "linear"

[optimizer]
type = "sgd"
lr = 0.05
momentum = 0.9

[[regularization]]
type = "label_smoothing"
epsilon = 0.1

[train]
epochs = 2
batch_size = 20
test = false
)";

struct Result {
  int code = -1;
  std::string output;
};

/// Runs a shell command line, capturing its output and error stream.
inline Result run_command(const std::string& command_line) {
  Result result;
  FILE* pipe = popen((command_line + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe)) result.output += buffer;
  const int status = pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

/// Runs `ftrun ARGS` in `folder` (the test's own working folder when empty).
inline Result run_in(const std::string& folder, const std::string& args) {
  return run_command((folder.empty() ? "" : "cd '" + folder + "' && ") + kFtrun + " " + args);
}

inline Result run(const std::string& args) { return run_in("", args); }

inline std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return dir / name;
}

inline std::string replaced(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

/// Waits until `sql` returns non-zero on `store` (which may not exist yet), polling every 50 ms for up to 5 minutes
/// (a busy machine is slow). False when it never did.
inline bool wait_until(const std::string& store, const std::string& sql) {
  for (int i = 0; i < 6000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    try {
      SQLite::Database db(store);
      if (db.execAndGet(sql).getInt() > 0) return true;
    } catch (const std::exception&) {
    }
  }
  return false;
}

// Starts ftrun on `experiment`, waits until `ready_sql` (on the store) returns non-zero, sends `signal`, and
// returns the exit status.
inline int run_and_signal(const std::string& experiment, const std::string& store, const std::string& ready_sql,
                          int signal) {
  const pid_t child = fork();
  if (child == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    execl(kFtrun.c_str(), kFtrun.c_str(), experiment.c_str(), "--store", store.c_str(), nullptr);
    _exit(127);
  }
  const bool ready = wait_until(store, ready_sql);
  if (!ready) kill(child, SIGKILL);
  kill(child, signal);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(ready);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

// Two classes with `per_class` images each and a head dropout, long enough that a signal lands inside the run,
// with random numbers for a resume to get right.
inline std::string long_tiny(int epochs, int per_class = 2000) {
  return replaced(
      replaced(replaced(kTiny, "samples_per_class = 30", "samples_per_class = " + std::to_string(per_class)),
               "epochs = 2", "epochs = " + std::to_string(epochs)),
      "type = \"linear\"", "type = \"linear\"\ndropout = 0.2");
}

// Checks that stores `a` and `b` hold the same step rows (step, name, value): bit for bit when `epsilon` is 0, else
// within that relative tolerance. `name` limits the rows to one metric. Returns how many rows were compared.
inline int check_same_steps(SQLite::Database& a, SQLite::Database& b, double epsilon = 0,
                            const std::string& name = "") {
  const std::string sql = "SELECT step, name, value FROM metrics WHERE scope = 'step'" +
                          (name.empty() ? std::string() : " AND name = '" + name + "'") + " ORDER BY step, name";
  SQLite::Statement qa(a, sql), qb(b, sql);
  int compared = 0;
  while (qa.executeStep()) {
    REQUIRE(qb.executeStep());
    CHECK(qb.getColumn(0).getInt() == qa.getColumn(0).getInt());
    CHECK(qb.getColumn(1).getString() == qa.getColumn(1).getString());
    if (epsilon == 0) {
      CHECK(qb.getColumn(2).getDouble() == qa.getColumn(2).getDouble());
    } else {
      CHECK(qb.getColumn(2).getDouble() == Approx(qa.getColumn(2).getDouble()).epsilon(epsilon));
    }
    ++compared;
  }
  CHECK_FALSE(qb.executeStep());
  return compared;
}

// True when Python's torch.load reads both checkpoints (ftrun's checkpoints are ordinary PyTorch files), they hold
// the same names, and `agree` (a Python expression over x and y) holds for every entry whose name k passes `keep`
// (one over k), at least one.
inline bool checkpoints_agree(const std::string& a, const std::string& b, const std::string& keep,
                              const std::string& agree) {
  const std::string command =
      std::string(FT_PYTHON) +
      " -c \"import sys, torch; a, b = (torch.load(p, weights_only=False) for p in sys.argv[1:]); "
      "kept = [k for k in a if " +
      keep +
      "]; "
      "sys.exit(0 if a.keys() == b.keys() and kept and all((lambda x, y: " +
      agree +
      ")(a[k], b[k]) for k in kept) "
      "else 1)\" " +
      a + " " + b;
  return std::system(command.c_str()) == 0;
}

/// The last value of metric `name` (an epoch's, or a test split's) of the run of `stage`; NaN where it is NULL.
inline double last_metric(SQLite::Database& db, const std::string& stage, const std::string& name) {
  SQLite::Statement query(db,
                          "SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.stage = ? AND "
                          "m.name = ? AND m.scope != 'step' ORDER BY m.epoch DESC LIMIT 1");
  query.bind(1, stage);
  query.bind(2, name);
  REQUIRE(query.executeStep());
  return query.getColumn(0).isNull() ? std::nan("") : query.getColumn(0).getDouble();
}

/// A small Fashion-MNIST detection set in COCO's layout (scripts/fashion_mnist_detection.py with `arguments`) in
/// `dir`/fmd; returns its folder.
inline std::string detection_set(const TempDir& dir, const std::string& arguments) {
  const std::string out = dir / "fmd";
  const auto made = run_command(std::string(FT_PYTHON) + " " + FT_SOURCE_DIR + "/scripts/fashion_mnist_detection.py " +
                                out + " " + arguments);
  INFO(made.output);
  REQUIRE(made.code == 0);
  return out;
}

/// A tiny detection experiment on the set in `set`: a ResNet-18 and a narrow FCOS head from random weights, on
/// the CPU, two epochs; `extra` is appended (more sections, or keys of [train]).
inline std::string tiny_detection(const std::string& set, const std::string& extra = "") {
  return R"([experiment]
name = "tiny_detection"
seed = 2
device = "cpu"
[backbone]
type = "resnet18"
[dataset]
type = "coco"
root = ")" +
         set + R"("
channels = 1
[task]
type = "detection"
[head]
type = "fcos"
channels = 32
convolutions = 1
[optimizer]
type = "adamw"
lr = 0.001
[train]
epochs = 2
batch_size = 4
test = false
)" + extra;
}

}  // namespace ftrun_test

using namespace ftrun_test;
