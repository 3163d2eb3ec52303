// Data-parallel training with the real ftrun binary: two processes joined over Gloo on the loopback address, as
// torchrun starts them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), against one process.
#include "ftrun_cli.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

using Catch::Matchers::Contains;

namespace {

// A port per test process and test, so concurrent runs of the suite do not meet.
int next_port() {
  static int offset = 0;
  return 30000 + static_cast<int>(::getpid() % 15000) * 2 + offset++;
}

// Starts rank `rank` of `world` as torchrun would, its output in `log`; returns its pid.
pid_t start_rank(int rank, int world, int port, const std::string& args, const std::string& log) {
  const pid_t child = fork();
  if (child == 0) {
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
    setenv("LOCAL_WORLD_SIZE", std::to_string(world).c_str(), 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    execl("/bin/sh", "sh", "-c", ("exec " + kFtrun + " " + args + " >" + log + " 2>&1").c_str(), nullptr);
    _exit(127);
  }
  return child;
}

int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `ftrun ARGS` as ranks 0 and 1 of two, logging to DIR/rank0.log and rank1.log; both must succeed.
void run_two_ranks(const std::string& args, const TempDir& dir) {
  const int port = next_port();
  const pid_t rank0 = start_rank(0, 2, port, args, dir / "rank0.log");
  const pid_t rank1 = start_rank(1, 2, port, args, dir / "rank1.log");
  const int code1 = wait_for(rank1), code0 = wait_for(rank0);
  INFO(read_file(dir / "rank0.log") + read_file(dir / "rank1.log"));
  REQUIRE(code0 == 0);
  REQUIRE(code1 == 0);
}

// BatchNorm-free, so each example is computed on its own and two processes can match one exactly.
std::string independent_examples(int per_class, int epochs) {
  return replaced(replaced(replaced(kTiny, "width = 4", "width = 4\nbatch_norm = false"), "samples_per_class = 30",
                           "samples_per_class = " + std::to_string(per_class)),
                  "epochs = 2", "epochs = " + std::to_string(epochs));
}

// Two processes on a long run, started and seen training (its first steps in the store), each logging to
// rankR.log in `dir`.
struct TwoTraining {
  std::string store;
  pid_t rank0 = 0, rank1 = 0;
  bool training = false;
};

TwoTraining start_two_training(const TempDir& dir) {
  TwoTraining two;
  const auto experiment = write(dir, "long.toml", independent_examples(2000, 30));
  two.store = dir / "ftrun.db";
  const int port = next_port();
  const std::string args = experiment + " --store " + two.store;
  two.rank0 = start_rank(0, 2, port, args, dir / "rank0.log");
  two.rank1 = start_rank(1, 2, port, args, dir / "rank1.log");
  two.training = wait_until(two.store, "SELECT COUNT(*) FROM metrics WHERE scope = 'step'");
  return two;
}

}  // namespace

TEST_CASE("two processes with batch B end with the weights of one process with batch 2B", "[e2e][distributed]") {
  TempDir dir;
  const auto experiment = write(dir, "ddp.toml", independent_examples(40, 2));
  const auto single = run(experiment + " --store " + (dir / "one/ftrun.db") + " --set train.batch_size=20");
  INFO(single.output);
  REQUIRE(single.code == 0);

  run_two_ranks(experiment + " --store " + (dir / "two/ftrun.db") + " --set train.batch_size=10", dir);
  CHECK_THAT(read_file(dir / "rank0.log"), Contains("joined 2 processes (torchrun, gloo)"));

  SQLite::Database one(dir / "one/ftrun.db"), two(dir / "two/ftrun.db");
  CHECK(two.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 1);
  CHECK(two.execAndGet("SELECT status FROM runs").getString() == "completed");
  CHECK(two.execAndGet("SELECT value FROM run_params WHERE key = 'distributed.world_size'").getInt() == 2);
  CHECK(two.execAndGet("SELECT value FROM run_params WHERE key = 'train.global_batch_size'").getInt() == 20);
  CHECK(one.execAndGet("SELECT value FROM run_params WHERE key = 'train.global_batch_size'").getInt() == 20);
  // The same steps, each loss the mean over both processes' halves of the batch.
  const int steps = check_same_steps(one, two, 1e-4, "train_loss");
  CHECK(steps == 8);  // 80 images at a global batch of 20, two epochs
  // Validation counted each example once: the same loss as one process over the whole split.
  CHECK(two.execAndGet("SELECT val_loss FROM epoch_metrics WHERE epoch = 2").getDouble() ==
        Approx(one.execAndGet("SELECT val_loss FROM epoch_metrics WHERE epoch = 2").getDouble()).epsilon(1e-4));
  // fp32 sums in another order: weights agree to 1e-5 relative, 1e-6 absolute.
  CHECK(checkpoints_agree(one.execAndGet("SELECT checkpoint_path FROM runs").getString(),
                          two.execAndGet("SELECT checkpoint_path FROM runs").getString(),
                          "not k.startswith('__ftrun__')",
                          "torch.allclose(x.float(), y.float(), rtol=1e-5, atol=1e-6)"));
}

TEST_CASE("a killed process ends the others, and the run is marked failed once", "[e2e][distributed]") {
  TempDir dir;
  const auto [store, rank0, rank1, training] = start_two_training(dir);
  kill(rank1, SIGKILL);
  const auto start = std::chrono::steady_clock::now();
  const int code0 = wait_for(rank0);
  wait_for(rank1);
  INFO(read_file(dir / "rank0.log"));
  REQUIRE(training);
  CHECK(code0 != 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(60));
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 1);
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "failed");
  CHECK_THAT(db.execAndGet("SELECT error FROM runs").getString(), Contains("lost another process"));
}

TEST_CASE("Ctrl-C on one process stops every process at the next read-back, marked interrupted", "[e2e][distributed]") {
  TempDir dir;
  const auto [store, rank0, rank1, training] = start_two_training(dir);
  kill(rank1, SIGINT);  // rank 1 alone: rank 0 hears of it at the next read-back
  const int code1 = wait_for(rank1), code0 = wait_for(rank0);
  INFO(read_file(dir / "rank0.log") + read_file(dir / "rank1.log"));
  REQUIRE(training);
  CHECK(code0 == 130);
  CHECK(code1 == 130);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "interrupted");
  CHECK_THAT(db.execAndGet("SELECT error FROM runs").getString(), Contains("stopped by another process"));
}

// A process blocked in a collective with a peer that stopped answering (here: stopped with SIGSTOP) once waited
// for distributed.timeout before it noticed SIGTERM; it now leaves within its grace of 5 s, the run interrupted.
TEST_CASE("SIGTERM reaches a process whose peer stalled, within the grace period", "[e2e][distributed]") {
  TempDir dir;
  const auto [store, rank0, rank1, training] = start_two_training(dir);
  kill(rank1, SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // rank 0 is now waiting for rank 1
  const auto start = std::chrono::steady_clock::now();
  kill(rank0, SIGTERM);
  const int code0 = wait_for(rank0);
  const auto waited = std::chrono::steady_clock::now() - start;
  kill(rank1, SIGKILL);
  kill(rank1, SIGCONT);
  wait_for(rank1);
  INFO(read_file(dir / "rank0.log"));
  REQUIRE(training);
  CHECK(code0 == 143);
  CHECK(waited < std::chrono::seconds(15));
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "interrupted");
  CHECK_THAT(db.execAndGet("SELECT error FROM runs").getString(), Contains("while waiting for the other processes"));
}

TEST_CASE("a data-parallel run resumes on as many processes and ends as if never stopped", "[e2e][distributed]") {
  TempDir dir;
  // With mixup (each process draws its own mixes, from (seed, epoch, rank)) and the weight average, which rank 0
  // sends to the other process with the rest of the training state.
  const auto experiment = write(dir, "resume.toml",
                                replaced(independent_examples(600, 3), "epochs = 3", "epochs = 3\nema_decay = 0.9") +
                                    "\n[[regularization]]\ntype = \"mixup\"\nalpha = 0.4\n");
  const auto whole = dir / "whole/ftrun.db", cut = dir / "cut/ftrun.db";
  auto launch_two = [&](const std::string& args, const std::string& name) {
    const int port = next_port();
    const pid_t rank0 = start_rank(0, 2, port, args, dir / (name + "0.log"));
    const pid_t rank1 = start_rank(1, 2, port, args, dir / (name + "1.log"));
    return std::make_pair(rank0, rank1);
  };
  auto [w0, w1] = launch_two(experiment + " --store " + whole, "whole");
  REQUIRE(wait_for(w1) == 0);
  REQUIRE(wait_for(w0) == 0);

  auto [c0, c1] = launch_two(experiment + " --store " + cut + " --set train.log_every=1", "cut");
  const bool one_epoch = wait_until(cut, "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'");
  kill(c1, SIGINT);
  CHECK(wait_for(c1) == 130);
  CHECK(wait_for(c0) == 130);
  REQUIRE(one_epoch);
  {
    SQLite::Database db(cut);
    REQUIRE(db.execAndGet("SELECT status FROM runs").getString() == "interrupted");
  }
  // One process cannot take it over: the data order and the batch depend on the number of processes.
  const auto alone = run("resume 1 --store " + cut);
  CHECK(alone.code == 2);
  CHECK_THAT(alone.output, Contains("was trained on 2 process(es)"));

  auto [r0, r1] = launch_two("resume 1 --store " + cut, "resume");
  const int code1 = wait_for(r1), code0 = wait_for(r0);
  INFO(read_file(dir / "resume0.log") + read_file(dir / "resume1.log"));
  REQUIRE(code0 == 0);
  REQUIRE(code1 == 0);
  SQLite::Database a(whole), b(cut);
  CHECK(b.execAndGet("SELECT status FROM runs").getString() == "completed");
  CHECK(check_same_steps(a, b, 0, "train_loss") == 3 * 1200 / 40);  // bit for bit
}

TEST_CASE("under torchrun --max-restarts, a restarted group resumes its run by itself", "[e2e][distributed]") {
  const std::string torchrun = std::filesystem::path(FT_PYTHON).parent_path() / "torchrun";
  if (!std::filesystem::exists(torchrun)) {
    WARN("no torchrun beside " << FT_PYTHON << ": skipped");
    return;
  }
  TempDir dir;
  const auto experiment = write(dir, "restart.toml", independent_examples(1000, 6));
  const auto store = dir / "ftrun.db";
  const int port = next_port();
  const pid_t launcher = fork();
  if (launcher == 0) {
    const std::string command =
        "exec " + torchrun + " --nnodes 1 --nproc-per-node 2 --max-restarts 1 --rdzv-id test" + std::to_string(port) +
        " --rdzv-backend c10d --rdzv-endpoint 127.0.0.1:" + std::to_string(port) + " --no-python " + kFtrun + " " +
        experiment + " --store " + store + " >" + (dir / "torchrun.log") + " 2>&1";
    execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
    _exit(127);
  }
  const bool one_epoch = wait_until(store, "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'");
  // Kill rank 1 (found by its environment), as a crash would.
  std::system(("for p in $(pgrep -f '" + store +
               "'); do tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | "
               "grep -qx RANK=1 && kill -9 $p; done")
                  .c_str());
  const int code = wait_for(launcher);
  INFO(read_file(dir / "torchrun.log"));
  REQUIRE(one_epoch);
  CHECK(code == 0);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 1);
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "completed");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM epoch_metrics").getInt() == 6);
  CHECK_THAT(read_file(dir / "torchrun.log"), Contains("resuming run 1 from its last checkpoint"));
}

// COCO's mAP needs every detection of the split: two processes each evaluate half the validation canvases and the
// detections are gathered, so with the same weights the mAP is the one process's. The weights are a trained run's
// (backbone.weights and head.weights on its checkpoint), kept by a learning rate of 1e-12 and a frozen backbone
// (its BatchNorm in eval mode; FCOS's heads use GroupNorm, which keeps no statistics).
TEST_CASE("a detection run on two processes computes the mAP of one process over the whole split",
          "[e2e][distributed][detection]") {
  TempDir dir;
  const auto set = ftrun_test::detection_set(dir, "--seed 7 --train 40 --val 21 --test 0");
  const auto experiment = write(dir, "detection.toml", ftrun_test::tiny_detection(set));
  const std::string settings =
      " --set 'backbone.freeze=[\"*\"]' --set task.score_threshold=0.0 --set train.eval_batch_size=4";
  const auto trained = run(experiment + " --store " + (dir / "trained.db") + settings +
                           " --set optimizer.lr=0.003 --set train.epochs=3 --set train.batch_size=8");
  INFO(trained.output);
  REQUIRE(trained.code == 0);
  const std::string checkpoint =
      SQLite::Database(dir / "trained.db").execAndGet("SELECT checkpoint_path FROM runs").getString();
  const std::string same_weights =
      settings + " --set backbone.weights=" + checkpoint + " --set head.weights=" + checkpoint +
      " --set optimizer.lr=1e-12 --set optimizer.weight_decay=0 --set train.epochs=1 --set train.batch_size=8";

  const auto single = run(experiment + " --store " + (dir / "one/ftrun.db") + same_weights);
  INFO(single.output);
  REQUIRE(single.code == 0);
  run_two_ranks(experiment + " --store " + (dir / "two/ftrun.db") + same_weights + " --set train.batch_size=4", dir);
  SQLite::Database one(dir / "one/ftrun.db"), two(dir / "two/ftrun.db");
  const auto value = [](SQLite::Database& db, const std::string& name) {
    return db.execAndGet("SELECT value FROM metrics WHERE scope = 'epoch' AND name = '" + name + "'").getDouble();
  };
  // (Not the loss: FCOS divides each batch's loss by the batch's foreground anchors, so it depends on how the split
  // is cut into batches, which two processes cut otherwise; torchvision's does the same.)
  for (const std::string name : {"val_ap", "val_ap50", "val_ap75", "val_ar100"}) {
    INFO(name);
    CHECK(value(two, name) == Approx(value(one, name)).epsilon(1e-4).margin(1e-6));
  }
  CHECK(value(one, "val_ar100") > 0);  // the trained weights find objects: the comparison says something
}
