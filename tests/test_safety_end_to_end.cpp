// The ftrun binary under many writers, locks, races, moved folders and misbehaving plugins: nothing recorded is
// lost, nothing crashes, and every failure is one clear message with its exit code.
#include "ftrun_cli.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <sys/statvfs.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <atomic>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// The tiny experiment on one CPU thread, so that eight of them share two cores without starving each other.
std::string one_thread_tiny() { return replaced(kTiny, "device = \"cpu\"", "device = \"cpu\"\nthreads = 1"); }

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("eight ftrun processes share one store for three rounds: every run and every row recorded",
          "[e2e][concurrency]") {
  TempDir dir;
  const auto experiment = write(dir, "tiny.toml", one_thread_tiny());
  const auto store = dir / "shared/ftrun.db";
  constexpr int kProcesses = 8, kRounds = 3;

  // A reader lists runs in a loop all along; it must neither fail nor hold any writer up.
  std::atomic<bool> writing{true};
  std::atomic<int> reads{0}, failed_reads{0};
  std::thread reader([&] {
    while (writing) {
      const auto listing = run("runs --limit 5 --store " + store);
      // Before the first writer has created the store, the reader may create it itself: also fine.
      if (listing.code != 0) ++failed_reads;
      ++reads;
    }
  });
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::future<Result>> processes;
    for (int p = 0; p < kProcesses; ++p) {
      processes.push_back(std::async(std::launch::async, [&] { return run(experiment + " --store " + store); }));
    }
    for (auto& process : processes) {
      const Result result = process.get();
      INFO(result.output);
      CHECK(result.code == 0);
    }
  }
  writing = false;
  reader.join();
  CHECK(reads > 0);
  CHECK(failed_reads == 0);

  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs WHERE status = 'completed'").getInt() == kProcesses * kRounds);
  // Every run wrote the same rows: as many as the first one, none missing anywhere.
  const int per_run = db.execAndGet("SELECT COUNT(*) FROM metrics WHERE run_id = 1").getInt();
  CHECK(per_run > 0);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics").getInt() == per_run * kProcesses * kRounds);
  CHECK(db.execAndGet("SELECT COUNT(DISTINCT checkpoint_path) FROM runs").getInt() == kProcesses * kRounds);
}

TEST_CASE("two stores in one folder keep their checkpoints apart", "[e2e][store]") {
  TempDir dir;
  const auto experiment = write(dir, "tiny.toml", kTiny);
  REQUIRE(run(experiment + " --store " + (dir / "x/a.db")).code == 0);
  SQLite::Database a(dir / "x/a.db");
  const std::string a_checkpoint = a.execAndGet("SELECT checkpoint_path FROM runs WHERE id = 1").getString();
  const std::string a_bytes = file_bytes(a_checkpoint);
  REQUIRE(run(experiment + " --set train.epochs=1 --store " + (dir / "x/b.db")).code == 0);
  SQLite::Database b(dir / "x/b.db");
  const std::string b_checkpoint = b.execAndGet("SELECT checkpoint_path FROM runs WHERE id = 1").getString();
  CHECK(a_checkpoint == (dir.path() / "x/a.db-checkpoints/run-1/last.pt").string());
  CHECK(b_checkpoint == (dir.path() / "x/b.db-checkpoints/run-1/last.pt").string());
  CHECK(file_bytes(a_checkpoint) == a_bytes);  // b's run 1 did not overwrite a's
}

TEST_CASE("a run is resumed from its own store's checkpoint, whatever the working folder holds", "[e2e][resume]") {
  TempDir dir;
  const auto store = dir / "A/ftrun.db";
  fs::create_directories(dir / "A");
  fs::create_directories(dir / "B/checkpoints/run-1");
  std::ofstream(dir / "B/checkpoints/run-1/last.pt") << "a foreign file that must not be read";
  const auto experiment = write(dir, "long.toml", long_tiny(3, 300));
  CHECK(run_and_signal(experiment, store, "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'", SIGINT) == 130);
  const auto resumed = run_in(dir / "B", "resume 1 --store " + store);  // from B, which has its own checkpoints/
  INFO(resumed.output);
  CHECK(resumed.code == 0);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "completed");
  CHECK(db.execAndGet("SELECT checkpoint_path FROM runs").getString() ==
        (dir.path() / "A/ftrun.db-checkpoints/run-1/last.pt").string());
}

TEST_CASE("of two resumes of one run, one trains and the other is refused", "[e2e][resume]") {
  TempDir dir;
  const auto store = dir / "ftrun.db";
  const auto experiment = write(dir, "long.toml", long_tiny(3, 300));
  const auto whole = run(experiment + " --store " + (dir / "whole.db"));
  REQUIRE(whole.code == 0);
  CHECK(run_and_signal(experiment, store, "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'", SIGINT) == 130);
  auto first = std::async(std::launch::async, [&] { return run("resume 1 --store " + store); });
  auto second = std::async(std::launch::async, [&] { return run("resume 1 --store " + store); });
  const Result a = first.get(), b = second.get();
  INFO(a.output + "\n----\n" + b.output);
  CHECK(((a.code == 0 && b.code == 2) || (a.code == 2 && b.code == 0)));
  CHECK_THAT(a.output + b.output, Contains("cannot be resumed") || Contains("still running"));
  SQLite::Database db(store), reference(dir / "whole.db");
  const auto count = "SELECT COUNT(*) FROM metrics";
  CHECK(db.execAndGet(count).getInt() == reference.execAndGet(count).getInt());
}

TEST_CASE("a store locked for longer than the timeout closes the run as failed and keeps its rows",
          "[e2e][store][concurrency]") {
  TempDir dir;
  const auto store = dir / "ftrun.db";
  const auto experiment = write(dir, "long.toml", long_tiny(50, 300));
  // ftrun with its output on a pipe, so the lock below can be released once ftrun says a write failed.
  int output[2];
  REQUIRE(pipe(output) == 0);
  const pid_t child = fork();
  if (child == 0) {
    dup2(output[1], 1);
    dup2(output[1], 2);
    close(output[0]);
    setenv("FTRUN_STORE_TIMEOUT", "0.2", 1);
    execl(kFtrun.c_str(), kFtrun.c_str(), experiment.c_str(), "--store", store.c_str(), nullptr);
    _exit(127);
  }
  close(output[1]);
  // Once an epoch is recorded, take the write lock, as a careless sqlite3 shell would, and keep it until ftrun
  // reports that a write failed (after its 3 attempts); closing the run then waits long enough to succeed.
  std::optional<SQLite::Database> locker;
  if (wait_until(store, "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'")) {
    locker.emplace(store, SQLite::OPEN_READWRITE);
    locker->setBusyTimeout(60000);  // waits for a write of ftrun's that is under way
    locker->exec("BEGIN EXCLUSIVE");
  }
  std::string text;
  char buffer[4096];
  for (ssize_t got; (got = read(output[0], buffer, sizeof buffer)) > 0;) {
    text.append(buffer, static_cast<std::size_t>(got));
    if (locker && text.find("closing it as failed") != std::string::npos) {
      locker->exec("COMMIT");
      locker.reset();
    }
  }
  close(output[0]);
  int status = 0;
  waitpid(child, &status, 0);
  INFO(text);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 5);
  CHECK_THAT(text, Contains("database is locked") && Contains("FTRUN_STORE_TIMEOUT") && Contains("after 3 attempts"));
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "failed");
  CHECK_THAT(db.execAndGet("SELECT error FROM runs").getString(), Contains("database is locked"));
  // No gap: every epoch up to the last one recorded has its training loss, the failed write's rows included.
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE scope = 'epoch' AND name = 'train_loss'").getInt() ==
        db.execAndGet("SELECT MAX(epoch) FROM metrics WHERE scope = 'epoch'").getInt());
}

namespace {

// A small tmpfs of its own (root only, as in CI), unmounted at the end.
struct SmallDisk {
  std::string path;
  bool mounted = false;
  explicit SmallDisk(const std::string& at) : path(at) {
    std::filesystem::create_directories(path);
    mounted = geteuid() == 0 && std::system(("mount -t tmpfs -o size=32m tmpfs " + path + " 2>/dev/null").c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted) std::system(("umount -l " + path).c_str());
  }
  // Fills the disk with one file until `leave` bytes are free.
  void fill(std::int64_t leave) const {
    struct statvfs info {};
    REQUIRE(statvfs(path.c_str(), &info) == 0);
    const std::int64_t free_bytes = static_cast<std::int64_t>(info.f_bavail) * info.f_frsize;
    std::ofstream filler(path + "/filler", std::ios::binary);
    const std::vector<char> block(64 * 1024, 0);
    for (std::int64_t left = free_bytes - leave; left > 0; left -= static_cast<std::int64_t>(block.size())) {
      filler.write(block.data(), static_cast<std::streamsize>(std::min<std::int64_t>(left, block.size())));
    }
  }
};

}  // namespace

// The store's disk fills while a run trains: the run stops (exit code 5) and is closed as failed with the reason,
// even when not one more page fits in the database, from the space reserved for its closing when it began. Before
// the reservation, it stayed "running" without an error, and the next command called it interrupted ("killed?").
TEST_CASE("a disk that fills mid-run leaves the run failed with its reason and the rows it could not write",
          "[e2e][store][disk_full]") {
  for (const std::int64_t leave : {std::int64_t{0}, std::int64_t{16} << 10, std::int64_t{128} << 10}) {
    INFO("bytes left free: " << leave);
    TempDir dir;
    const SmallDisk disk(dir / "disk");
    if (!disk.mounted) {
      WARN("not run: mounting a tmpfs needs root (CI runs as root)");
      return;
    }
    const auto store = disk.path + "/ftrun.db";
    const auto experiment = write(dir, "long.toml", long_tiny(400, 300));
    const pid_t child = fork();
    if (child == 0) {
      std::freopen((dir / "ftrun.log").c_str(), "w", stdout);
      dup2(fileno(stdout), 2);
      setenv("FTRUN_STORE_TIMEOUT", "0.2", 1);
      execl(kFtrun.c_str(), kFtrun.c_str(), experiment.c_str(), "--store", store.c_str(), nullptr);
      _exit(127);
    }
    const bool started = wait_until(store, "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'");
    if (started) disk.fill(leave);
    int status = 0;
    waitpid(child, &status, 0);
    std::ifstream log_file(dir / "ftrun.log");
    const std::string output((std::istreambuf_iterator<char>(log_file)), std::istreambuf_iterator<char>());
    INFO(output);
    REQUIRE(started);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 5);
    std::filesystem::remove(disk.path + "/filler");
    // The next command records a closing kept beside the store, if the database could not take it.
    const auto listing = run("runs --store " + store);
    INFO(listing.output);
    CHECK(listing.code == 0);
    SQLite::Database db(store);
    CHECK(db.execAndGet("SELECT status FROM runs").getString() == "failed");
    CHECK_THAT(db.execAndGet("SELECT error FROM runs").getString(), Contains("full"));
    CHECK(db.execAndGet("SELECT ended_at IS NOT NULL FROM runs").getInt() == 1);
    // No gap: every epoch up to the last one recorded has its training loss, the unwritten rows included.
    CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE scope = 'epoch' AND name = 'train_loss'").getInt() ==
          db.execAndGet("SELECT MAX(epoch) FROM metrics WHERE scope = 'epoch'").getInt());
    CHECK_FALSE(std::filesystem::exists(std::filesystem::path(store + "-checkpoints") / "run-1" / "closing"));
  }
}

TEST_CASE("problems in a later stage are all reported before the first stage trains", "[e2e][config]") {
  TempDir dir;
  const auto experiment = write(dir, "staged.toml", kTiny + R"(
[[stage]]
name = "first"
[[stage]]
name = "second"
[stage.optimizer]
type = "sgd"
lr = 0.01
momentun = 0.9
[stage.dataset]
type = "fashion_mnist"
clases = [2, 3]
)");
  const auto store = dir / "ftrun.db";
  const auto result = run(experiment + " --store " + store);
  INFO(result.output);
  CHECK(result.code == 2);
  CHECK_THAT(result.output,
             Contains("stage second") && Contains("unknown key 'momentun'") && Contains("unknown key 'clases'"));
  CHECK_FALSE(Contains("epoch 1/").match(result.output));
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 0);
}

TEST_CASE("misbehaving plugins are refused with their file, never crash ftrun, and record nothing", "[e2e][loader]") {
  TempDir dir;
  const auto experiment = write(dir, "tiny.toml", kTiny);
  const auto store = dir / "ftrun.db";
  const std::string plugin = std::string(FT_FIXTURE_DIR) + "/fixture_misbehaving_heads.so";
  const auto with_head = [&](const std::string& head) {
    return run(experiment + " --store " + store + " --set 'experiment.plugins=[\"" + plugin +
               "\"]' --set head.type=" + head);
  };
  const auto thrower = with_head("throws_int");
  INFO(thrower.output);
  CHECK(thrower.code == 3);
  CHECK_THAT(thrower.output, Contains("fixture_misbehaving_heads.so") && Contains("not a std::exception"));
  const auto too_many = with_head("too_many_outputs");
  INFO(too_many.output);
  CHECK(too_many.code == 3);
  CHECK_THAT(too_many.output,
             Contains("head 'too_many_outputs' produced outputs of shape [2, 3]") && Contains("expected [2, 2]"));
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 0);

  // A plugin folder holding broken libraries (an unresolved symbol, a throwing registration, a name that
  // shadows the built-in sgd) does not stop a run; the shadowing is worth a warning.
  setenv("FTRUN_PLUGIN_PATH", FT_FIXTURE_DIR, 1);
  const auto plain_sgd = write(dir, "plain.toml", replaced(kTiny, "momentum = 0.9\n", ""));
  const auto shadowed = run(plain_sgd + " --store " + store);
  unsetenv("FTRUN_PLUGIN_PATH");
  INFO(shadowed.output);
  CHECK(shadowed.code == 0);
  CHECK_THAT(shadowed.output, Contains("its name is taken") && Contains("ft_sgd.so"));
}

TEST_CASE("optimizers missing what the loop needs are refused or warned about before anything is recorded",
          "[e2e][loader]") {
  TempDir dir;
  const auto experiment = write(dir, "tiny.toml", replaced(kTiny, "momentum = 0.9\n", ""));
  const auto store = dir / "ftrun.db";
  const std::string plugin = std::string(FT_FIXTURE_DIR) + "/fixture_careless_optimizers.so";
  const auto with = [&](const std::string& optimizer) {
    return run(experiment + " --store " + store + " --set 'experiment.plugins=[\"" + plugin +
               "\"]' --set optimizer.type=" + optimizer);
  };
  const auto no_lr = with("no_lr");
  INFO(no_lr.output);
  CHECK(no_lr.code == 3);
  CHECK_THAT(no_lr.output, Contains("do not implement get_lr() and set_lr()"));
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 0);

  const auto forgetful = with("forgetful");
  INFO(forgetful.output);
  CHECK(forgetful.code == 0);  // it trains, but the user is told that resume will not be exact
  CHECK_THAT(forgetful.output, Contains("optimizer 'forgetful'") && Contains("will not continue its runs exactly"));
  // The built-in optimizers save everything: no such warning.
  const auto sgd = run(experiment + " --store " + store);
  CHECK_FALSE(Contains("will not continue").match(sgd.output));
}

TEST_CASE("the verbose flag works before and after the experiment, and long UTF-8 names are cut between characters",
          "[e2e][cli]") {
  TempDir dir;
  const auto experiment =
      write(dir, "tiny.toml", replaced(kTiny, "name = \"tiny\"", "name = \"ééééééééééééééééééééééééé\""));
  const auto store = dir / "ftrun.db";
  CHECK(run("-v " + experiment + " --dry-run").code == 0);
  CHECK(run(experiment + " --dry-run -v").code == 0);
  REQUIRE(run(experiment + " --store " + store).code == 0);
  const auto listing = run("runs --store " + store);
  // 25 characters of two bytes each: 22 whole characters, then the column's space.
  std::string twenty_two;
  for (int i = 0; i < 22; ++i) twenty_two += "é";
  CHECK_THAT(listing.output, Contains(twenty_two + " -"));
  CHECK_FALSE(Contains(twenty_two + "é").match(listing.output));
}
