// Drives the real ftrun binary on real Fashion-MNIST data and checks what it wrote to the store.
#include "cifar_files.h"
#include "ftrun_cli.h"
#include "image_folder_files.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <thread>

using Catch::Matchers::Contains;

TEST_CASE("ftrun trains a real experiment and records the run", "[e2e]") {
  TempDir dir;
  const auto experiment = write(dir, "tiny.toml", kTiny);
  const auto store = dir / "store/ftrun.db";
  const auto result = run(experiment + " --store " + store);
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK_THAT(result.output, Contains("epoch 2/2"));

  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "completed");
  CHECK(db.execAndGet("SELECT ended_at IS NOT NULL AND error IS NULL FROM runs").getInt() == 1);
  CHECK_THAT(db.execAndGet("SELECT config_toml FROM runs").getString(), Contains("samples_per_class = 30"));
  CHECK(db.execAndGet("SELECT torch_version FROM runs").getString() == "2.11.0");
  CHECK(db.execAndGet("SELECT value FROM run_params WHERE key = 'optimizer.lr'").getDouble() == 0.05);
  CHECK(
      db.execAndGet("SELECT value FROM run_params WHERE key = 'regularization.label_smoothing.epsilon'").getDouble() ==
      0.1);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM run_plugins").getInt() == 6);  // the task too
  CHECK(
      db.execAndGet("SELECT COUNT(*) FROM run_plugins WHERE kind = 'task' AND component = 'classification'").getInt() ==
      1);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM run_plugins WHERE library LIKE '%/ft_sgd.so'").getInt() == 1);
  // 60 images at batch 20: 3 steps an epoch, 6 in all, each with its loss and both groups' learning rates.
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE scope = 'step' AND name = 'train_loss'").getInt() == 6);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE scope = 'step' AND name = 'lr/head'").getInt() == 6);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM epoch_metrics WHERE val_accuracy BETWEEN 0 AND 1").getInt() == 2);
  const std::string checkpoint = db.execAndGet("SELECT checkpoint_path FROM runs").getString();
  CHECK(std::filesystem::exists(checkpoint));

  const auto listing = run("runs --store " + store);
  CHECK(listing.code == 0);
  CHECK_THAT(listing.output, Contains("tiny"));
  CHECK_THAT(listing.output, Contains("completed"));

  const auto curves = run("show 1 --store " + store);
  CHECK(curves.code == 0);
  CHECK_THAT(curves.output, Contains("train_loss"));
  CHECK_THAT(curves.output, Contains("val_acc"));
  const auto by_lr = run("compare optimizer.lr --name tiny --store " + store);
  CHECK(by_lr.code == 0);
  CHECK_THAT(by_lr.output, Contains("0.05"));
  const auto missing = run("show 99 --store " + store);
  CHECK(missing.code == 2);
  CHECK_THAT(missing.output, Contains("no run 99"));
}

TEST_CASE("stages run in order, each its own run linked to the stage whose weights it took", "[e2e]") {
  TempDir dir;
  const auto experiment = write(dir, "staged.toml", kTiny + R"(
[[stage]]
name = "pretrain"
[stage.train]
epochs = 1

[[stage]]
name = "finetune"
[stage.backbone]
weights = "stage:pretrain"
freeze = ["block1"]
lr_mult = 0.1
[stage.dataset]
classes = [2, 3, 4]
)");
  const auto store = dir / "ftrun.db";
  const auto result = run(experiment + " --store " + store);
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK_THAT(result.output, Contains("loaded"));
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs WHERE status = 'completed'").getInt() == 2);
  CHECK(db.execAndGet("SELECT parent_run_id FROM runs WHERE stage = 'finetune'").getInt() ==
        db.execAndGet("SELECT id FROM runs WHERE stage = 'pretrain'").getInt());
  CHECK(db.execAndGet("SELECT COUNT(DISTINCT group_id) FROM runs").getInt() == 1);
  CHECK(db.execAndGet("SELECT value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.stage = 'finetune' AND "
                      "m.name = 'lr/backbone' LIMIT 1")
            .getDouble() == Approx(0.005));
}

TEST_CASE("a run computes on OMP_NUM_THREADS threads when set, on experiment.threads when given", "[e2e][threads]") {
  TempDir dir;
  const auto experiment = write(dir, "tiny.toml", kTiny);
  const auto store = dir / "ftrun.db";
  const auto with_three = run_command("OMP_NUM_THREADS=3 " + kFtrun + " " + experiment + " --store " + store);
  INFO(with_three.output);
  REQUIRE(with_three.code == 0);
  CHECK_THAT(with_three.output, Contains("3 CPU threads"));
  const auto given =
      run_command("OMP_NUM_THREADS=3 " + kFtrun + " " + experiment + " --set experiment.threads=2 --store " + store);
  REQUIRE(given.code == 0);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT group_concat(threads) FROM (SELECT threads FROM runs ORDER BY id)").getString() == "3,2");
}

TEST_CASE("a dry run prints the resolved experiment and records nothing", "[e2e]") {
  TempDir dir;
  const auto experiment = write(dir, "tiny.toml", kTiny);
  const auto result = run(experiment + " --dry-run --set optimizer.lr=0.2 --store " + (dir / "ftrun.db"));
  CHECK(result.code == 0);
  CHECK_THAT(result.output, Contains("lr = 0.2"));
  CHECK_THAT(result.output, Contains("eval_batch_size = 256"));
  CHECK_FALSE(std::filesystem::exists(dir / "ftrun.db"));
}

TEST_CASE("bad input gives one clear message, its exit code, and no run", "[e2e]") {
  TempDir dir;
  const auto store = dir / "ftrun.db";
  auto expect = [&](const std::string& text, int code, const std::string& message, const std::string& extra = "") {
    const auto experiment = write(dir, "bad.toml", text);
    const auto result = run(experiment + " --store " + store + " " + extra);
    INFO(result.output);
    CHECK(result.code == code);
    CHECK_THAT(result.output, Contains(message));
    if (std::filesystem::exists(store)) {
      SQLite::Database db(store);
      CHECK(db.execAndGet("SELECT COUNT(*) FROM runs WHERE status IN ('running', 'completed')").getInt() == 0);
    }
  };
  expect(replaced(kTiny, "momentum = 0.9", "momentun = 0.9"), 2, "bad.toml:22:1: unknown key 'momentun'");
  expect(replaced(kTiny, "lr = 0.05", "lr = \"fast\""), 2, "optimizer.lr: expected a number, found a string");
  expect(replaced(kTiny, "[head]\ntype = \"linear\"\n", ""), 2, "missing required section [head]");
  expect(replaced(kTiny, "type = \"sgd\"", "type = \"sgdd\""), 3, "unknown optimizer type 'sgdd'; did you mean 'sgd'?");
  expect(kTiny, 4, "apt-get install dataset-fashion-mnist", "--set dataset.root=" + (dir / "no-data"));
  for (const char* file : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                           "t10k-labels-idx1-ubyte.gz"}) {
    std::filesystem::create_directories(std::filesystem::path(dir / "folders") / file);
  }
  expect(kTiny, 4, "IDX file " + (dir / "folders/train-images-idx3-ubyte.gz") + " is a folder, not a file",
         "--set dataset.root=" + (dir / "folders"));
  expect(kTiny, 3, "cannot load it as a shared library",
         "--set 'experiment.plugins=[\"" + write(dir, "fake.so", "text") + "\"]'");
  // Infinite hyperparameters: refused at their position before anything runs (the optimizer's save-and-restore
  // check once warned, falsely, that resume would not continue a run with lr = inf).
  expect(replaced(kTiny, "lr = 0.05", "lr = inf"), 2, "bad.toml:21:1: optimizer.lr: must be a finite number, got inf");
  expect(kTiny, 2, "optimizer.momentum: must be a finite number, got -inf", "--set optimizer.momentum=-inf");
  expect(kTiny, 2, "train.clip_grad_norm: must be a finite number, got inf", "--set train.clip_grad_norm=inf");
  expect(kTiny, 2, "optimizer 'sgd' cannot take a step with these values (value cannot be converted to type float",
         "--set optimizer.lr=1e300");
  expect(kTiny, 2, "regularization.epsilon: must be a finite number",
         "--set regularization.label_smoothing.epsilon=inf");
  for (const char* optimizer : {"adam", "adamw", "rmsprop", "adagrad", "lamb", "lion"}) {
    expect(replaced(kTiny, "momentum = 0.9\n", ""), 2, "optimizer.lr: must be a finite number, got inf",
           std::string("--set optimizer.type=") + optimizer + " --set optimizer.lr=inf");
  }
  // Too large for memory: estimated by the plugin before allocating (convnet), or an allocation LibTorch refused
  // (a head of 1.6 TB): both said with the sizes, exit code 6, no run. The first once aborted the process.
  expect(kTiny, 6, "backbone convnet with width = 100000000 needs", "--set backbone.width=100000000");
  expect(kTiny, 6, "the host has", "--set backbone.width=100000000");
  expect(kTiny, 6, "head 'mlp'", "--set head.type=mlp --set 'head.hidden=[100000000000]'");
  expect(kTiny, 6, "out of memory: asked for", "--set head.type=mlp --set 'head.hidden=[100000000000]'");
  expect(kTiny, 2, "no CUDA GPU is visible", "--set experiment.device=cuda");
  expect(kTiny, 2, "train.cuda_graph = true needs a CUDA device", "--set train.cuda_graph=true");
  write(dir, "plain-file", "x");
  const auto blocked = run(write(dir, "tiny.toml", kTiny) + " --store " + (dir / "plain-file/ftrun.db"));
  CHECK(blocked.code == 5);
  CHECK_THAT(blocked.output, Contains("cannot create the folder"));
  // A PostgreSQL URL is not taken for a file path; a server that does not answer is said before training; a
  // password in the URL is refused, never shown.
  for (const std::string& command : {write(dir, "tiny.toml", kTiny), std::string("runs")}) {
    const auto server = run(command + " --store postgresql://ftrun@127.0.0.1:1/runs");
    CHECK(server.code == 5);
    CHECK_THAT(server.output, Contains("no server answered") && Contains("127.0.0.1:1"));
  }
  const auto secret = run("runs --store postgresql://ftrun:hunter2@127.0.0.1/runs");
  CHECK(secret.code == 5);
  CHECK_THAT(secret.output, Contains("PGPASSWORD") && !Contains("hunter2"));
  CHECK_FALSE(std::filesystem::exists("postgresql:"));
}

TEST_CASE("a run whose loss diverges is recorded as diverged, its NaN loss kept", "[e2e]") {
  TempDir dir;
  const auto experiment = write(dir, "tiny.toml", kTiny);
  const auto store = dir / "ftrun.db";
  const auto lr = GENERATE(as<std::string>{}, "1e30", "1e38");  // inf is refused, and so is 1e300 (no float)
  const auto result =
      run(experiment + " --store " + store + " --set optimizer.lr=" + lr + " --set train.batch_size=100");
  INFO(result.output);
  CHECK(result.code == 1);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "diverged");
  CHECK_THAT(db.execAndGet("SELECT error FROM runs").getString(), Contains("training diverged"));
  // The step whose loss was not finite is in the store (NaN as NULL, infinity as such), not lost.
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE name = 'train_loss' AND (value IS NULL OR "
                      "abs(value) > 1e308)")
            .getInt() == 1);
}

TEST_CASE("Ctrl-C stops the run cleanly and marks it interrupted", "[e2e][signals]") {
  TempDir dir;
  const auto store = dir / "ftrun.db";
  const int code = run_and_signal(write(dir, "long.toml", long_tiny(50)), store,
                                  "SELECT COUNT(*) FROM runs WHERE status = 'running'", SIGINT);
  CHECK(code == 130);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "interrupted");
  CHECK_THAT(db.execAndGet("SELECT error FROM runs").getString(), Contains("stopped by signal 2"));
}

TEST_CASE("SIGTERM stops the run cleanly and marks it interrupted", "[e2e][signals]") {
  TempDir dir;
  const auto store = dir / "ftrun.db";
  const int code = run_and_signal(write(dir, "long.toml", long_tiny(50)), store,
                                  "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'", SIGTERM);
  CHECK(code == 143);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "interrupted");
  CHECK_THAT(db.execAndGet("SELECT error FROM runs").getString(), Contains("stopped by signal 15"));
}

TEST_CASE("a resumed run ends with exactly the weights and metrics of an uninterrupted one", "[e2e][resume]") {
  // Plain, and with the overfitting toolkit's random and stateful parts: mixup draws from LibTorch's generator,
  // the weight average lives in the checkpoint.
  const std::string toolkit =
      GENERATE(std::string(), std::string("[[regularization]]\ntype = \"mixup\"\nalpha = 0.4\n"));
  TempDir dir;
  // 1,000 images per class: an epoch of a few seconds, ample for the signal to land inside the second one.
  std::string text = long_tiny(3, 1000) + "\n[schedule]\ntype = \"cosine\"\n";
  if (!toolkit.empty()) text = replaced(text, "epochs = 3", "epochs = 3\nema_decay = 0.9\nema_warmup = true") + toolkit;
  INFO(text);
  const auto experiment = write(dir, "resume.toml", text);
  const auto whole = run(experiment + " --store " + (dir / "whole/ftrun.db"));
  REQUIRE(whole.code == 0);

  const auto store = dir / "cut/ftrun.db";
  std::filesystem::create_directories(dir / "cut");
  // Stop it once the first epoch is recorded, i.e. during the second.
  CHECK(run_and_signal(experiment, store, "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'", SIGINT) == 130);
  const auto resumed = run("resume 1 --store " + store);
  INFO(resumed.output);
  REQUIRE(resumed.code == 0);
  CHECK_THAT(resumed.output, Contains("resuming after epoch 1"));

  SQLite::Database a(dir / "whole/ftrun.db"), b(store);
  CHECK(b.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 1);
  CHECK(b.execAndGet("SELECT status FROM runs").getString() == "completed");
  const std::string steps = "SELECT step, name, value FROM metrics WHERE scope = 'step' ORDER BY step, name";
  const auto count = "SELECT COUNT(*) FROM metrics WHERE scope = 'step'";
  CHECK(b.execAndGet(count).getInt() == a.execAndGet(count).getInt());
  SQLite::Statement qa(a, steps), qb(b, steps);
  while (qa.executeStep()) {
    REQUIRE(qb.executeStep());
    CHECK(qb.getColumn(0).getInt64() == qa.getColumn(0).getInt64());
    CHECK(qb.getColumn(2).getDouble() == qa.getColumn(2).getDouble());  // bit for bit
  }
  CHECK(b.execAndGet("SELECT val_loss FROM epoch_metrics WHERE epoch = 3").getDouble() ==
        a.execAndGet("SELECT val_loss FROM epoch_metrics WHERE epoch = 3").getDouble());
  // The final checkpoints hold the same tensors, weights and training state alike (read with Python's torch.load,
  // which also shows that ftrun checkpoints are ordinary PyTorch files). The optimizer's state is an archive
  // whose bytes carry a random serialization id, so it is left out; the identical losses above cover it.
  CHECK(checkpoints_agree(a.execAndGet("SELECT checkpoint_path FROM runs").getString(),
                          b.execAndGet("SELECT checkpoint_path FROM runs").getString(), "'optimizer' not in k",
                          "torch.equal(x, y)"));

  const auto again = run("resume 1 --store " + store);
  CHECK(again.code == 2);
  CHECK_THAT(again.output, Contains("is completed: there is nothing to resume"));
}

TEST_CASE("a small ResNet trains on CIFAR-format data, then fine-tunes with layer-wise learning rates",
          "[e2e][resnet]") {
  TempDir dir;
  write_cifar10(dir / "c10");
  const auto experiment = write(dir, "resnet.toml", R"([experiment]
name = "resnet_tiny"
device = "cpu"
[backbone]
type = "resnet18"
small_input = true
[dataset]
type = "cifar10"
root = ")" + (dir / "c10") + R"("
classes = [0, 1]
samples_per_class = 8
validation_fraction = 0.002
augment = ["random_crop", "hflip"]
[head]
type = "linear"
[optimizer]
type = "sgd"
lr = 0.01
momentum = 0.9
[train]
epochs = 1
batch_size = 8
test = false
[[stage]]
name = "pretrain"
[[stage]]
name = "finetune"
[stage.backbone]
weights = "stage:pretrain"
freeze = ["conv1", "bn1"]
lr_mult = 0.5
layer_decay = 0.5
)");
  const auto store = dir / "ftrun.db";
  const auto result = run(experiment + " --store " + store);
  INFO(result.output);
  REQUIRE(result.code == 0);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs WHERE status = 'completed'").getInt() == 2);
  auto lr = [&](const std::string& group) {
    return db
        .execAndGet(
            "SELECT value FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.stage = 'finetune' "
            "AND m.name = 'lr/" +
            group + "' LIMIT 1")
        .getDouble();
  };
  // Stages layer1..layer4 learn 0.5x slower each, from 0.5 x 0.01 at layer4; the frozen stem has no group.
  CHECK(lr("head") == Approx(0.01));
  CHECK(lr("backbone.layer4") == Approx(0.005));
  CHECK(lr("backbone.layer1") == Approx(0.005 * 0.125));
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE name = 'lr/backbone.conv1'").getInt() == 0);
}

TEST_CASE("the headline experiment without data or weights names both and how to get them", "[e2e][resnet]") {
  TempDir dir;
  const auto result =
      run(std::string(FT_SOURCE_DIR) + "/experiments/resnet50_cifar10.toml --store " + (dir / "ftrun.db") +
          " --set dataset.root=" + (dir / "cifar") + " --set backbone.weights=" + (dir / "resnet50.safetensors"));
  INFO(result.output);
  CHECK(result.code == 4);
  CHECK_THAT(result.output, Contains("cifar-10-binary.tar.gz"));
  CHECK_THAT(result.output, Contains("scripts/export_weights.py resnet50"));
}

TEST_CASE("images decoded by loader threads train a model end to end", "[e2e][image_folder]") {
  TempDir dir;
  write_image_folder(dir / "images", 12);
  const auto experiment = write(dir, "folder.toml",
                                replaced(replaced(kTiny, R"(type = "fashion_mnist"
classes = [0, 1]
samples_per_class = 30
validation_fraction = 0.02)",
                                                  "type = \"image_folder\"\nroot = \"" + (dir / "images") +
                                                      "\"\nimage_size = 32\nvalidation_fraction = 0.25"),
                                         "batch_size = 20", "batch_size = 6\nloader_threads = 2"));
  const auto store = dir / "ftrun.db";
  const auto result = run(experiment + " --store " + store);
  INFO(result.output);
  REQUIRE(result.code == 0);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE scope = 'step' AND name = 'train_loss'").getInt() == 6);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM epoch_metrics WHERE val_accuracy IS NOT NULL").getInt() == 2);
}

namespace {

std::vector<double> column(SQLite::Database& db, const std::string& sql) {
  std::vector<double> values;
  SQLite::Statement query(db, sql);
  while (query.executeStep()) values.push_back(query.getColumn(0).getDouble());
  return values;
}

// The tiny experiment with the backbone frozen (BatchNorm in eval mode), so a run's arithmetic does not depend
// on how examples are grouped into batches.
std::string frozen_tiny(const std::string& train_extra) {
  return replaced(replaced(kTiny, "width = 4", "width = 4\nfreeze = [\"*\"]"), "test = false",
                  "test = false\n" + train_extra);
}

}  // namespace

TEST_CASE("gradient accumulation over micro-batches equals one larger batch", "[e2e][loop]") {
  TempDir dir;
  const auto large = run(write(dir, "large.toml", frozen_tiny("")) + " --store " + (dir / "large.db"));
  const auto micro =
      run(write(dir, "micro.toml", replaced(frozen_tiny("accumulate = 2"), "batch_size = 20", "batch_size = 10")) +
          " --store " + (dir / "micro.db"));
  REQUIRE(large.code == 0);
  REQUIRE(micro.code == 0);
  SQLite::Database a(dir / "large.db"), b(dir / "micro.db");
  const std::string losses = "SELECT value FROM metrics WHERE scope = 'step' AND name = 'train_loss' ORDER BY step";
  const auto la = column(a, losses), lb = column(b, losses);
  REQUIRE(la.size() == 6);
  REQUIRE(lb.size() == 6);
  for (std::size_t i = 0; i < la.size(); ++i) CHECK(lb[i] == Approx(la[i]).epsilon(1e-5));
  const std::string val = "SELECT val_loss FROM epoch_metrics ORDER BY epoch";
  CHECK(column(b, val).back() == Approx(column(a, val).back()).epsilon(1e-5));
}

TEST_CASE("a schedule sets the learning rate of every step, and the store records it", "[e2e][loop]") {
  TempDir dir;
  const auto result =
      run(write(dir, "cos.toml", kTiny + "\n[schedule]\ntype = \"cosine\"\n") + " --store " + (dir / "ftrun.db"));
  INFO(result.output);
  REQUIRE(result.code == 0);
  SQLite::Database db(dir / "ftrun.db");
  const auto lrs = column(db, "SELECT value FROM metrics WHERE scope = 'step' AND name = 'lr/head' ORDER BY step");
  REQUIRE(lrs.size() == 6);
  CHECK(lrs[0] == Approx(0.05));
  CHECK(lrs[3] == Approx(0.025));  // halfway through 6 steps: 0.05 x (1 + cos(pi/2)) / 2
  CHECK(lrs[5] == Approx(0.05 * 0.5 * (1 + std::cos(M_PI * 5 / 6))));
  // Each epoch also records each group's highest rate, which ftrun compare lr/GROUP reads.
  const auto peaks = column(db, "SELECT value FROM metrics WHERE scope = 'epoch' AND name = 'lr/head' ORDER BY epoch");
  REQUIRE(peaks.size() == 2);
  CHECK(peaks[0] == Approx(lrs[0]));
  CHECK(peaks[1] == Approx(lrs[3]));
}

TEST_CASE("early stopping ends a run that stopped improving and keeps the best checkpoint", "[e2e][loop]") {
  TempDir dir;
  // A learning rate too small to change anything: val_loss cannot improve by min_delta after the first epoch.
  const auto experiment = write(dir, "stop.toml",
                                replaced(replaced(kTiny, "epochs = 2", "epochs = 10"), "test = false",
                                         "test = false\npatience = 2\nmin_delta = 0.1"));
  const auto result = run(experiment + " --store " + (dir / "ftrun.db") + " --set optimizer.lr=1e-12");
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK_THAT(result.output, Contains("early stopping"));
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "completed");
  CHECK(db.execAndGet("SELECT MAX(epoch) FROM epoch_metrics").getInt() == 3);
  CHECK(db.execAndGet("SELECT value FROM metrics WHERE name = 'stopped_early_at_epoch'").getInt() == 3);
  CHECK(db.execAndGet("SELECT value FROM metrics WHERE name = 'best_epoch'").getInt() == 1);
  const std::string last = db.execAndGet("SELECT checkpoint_path FROM runs").getString();
  CHECK(std::filesystem::exists(std::filesystem::path(last).parent_path() / "best.pt"));
}

TEST_CASE("gradient clipping bounds each step and records the norm before clipping", "[e2e][loop]") {
  TempDir dir;
  const auto result = run(write(dir, "clip.toml", frozen_tiny("clip_grad_norm = 1e-9")) + " --store " +
                          (dir / "ftrun.db") + " --set optimizer.momentum=0.0");
  INFO(result.output);
  REQUIRE(result.code == 0);
  SQLite::Database db(dir / "ftrun.db");
  const auto norms = column(db, "SELECT value FROM metrics WHERE name = 'grad_norm'");
  REQUIRE(norms.size() == 6);
  CHECK(norms.front() > 1e-3);  // the raw gradient is far larger than the bound...
  // ...so the clipped steps leave the weights, and the loss over the same images, as they were.
  const auto losses = column(db, "SELECT train_loss FROM epoch_metrics ORDER BY epoch");
  CHECK(losses[1] == Approx(losses[0]).epsilon(1e-6));
}

TEST_CASE("bf16 autocast and channels-last train on the CPU", "[e2e][precision]") {
  // With cutmix's soft targets and the weight average too, which must take bf16 logits and activations.
  TempDir dir;
  const auto result = run(write(dir, "bf16.toml", kTiny + "\n[[regularization]]\ntype = \"cutmix\"\n") + " --store " +
                          (dir / "ftrun.db") +
                          " --set experiment.precision=bf16 --set experiment.channels_last=true"
                          " --set train.ema_decay=0.9");
  INFO(result.output);
  REQUIRE(result.code == 0);
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT value FROM run_params WHERE key = 'experiment.precision'").getString() == "bf16");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM epoch_metrics WHERE val_loss IS NOT NULL").getInt() == 2);
}

TEST_CASE("every experiment shipped in experiments/ is valid", "[e2e][experiments]") {
  for (const auto& entry : std::filesystem::directory_iterator(std::string(FT_SOURCE_DIR) + "/experiments")) {
    if (entry.path().extension() != ".toml") continue;
    TempDir dir;
    // Sweeps are checked by `ftrun sweep --dry-run`, experiments by `ftrun --dry-run`; neither trains or records.
    const bool sweep = entry.path().filename().string().find("sweep") != std::string::npos;
    const auto result =
        run(std::string(sweep ? "sweep " : "") + entry.path().string() + " --dry-run --store " + (dir / "ftrun.db"));
    INFO(entry.path().string() << "\n" << result.output);
    CHECK(result.code == 0);
  }
}

TEST_CASE("every augmentation of the device trains, and the run records the list", "[e2e][augment]") {
  TempDir dir;
  const auto result =
      run(write(dir, "augment.toml", kTiny) + " --store " + (dir / "ftrun.db") +
          " --set 'dataset.augment=[\"random_resized_crop\", \"random_crop\", \"hflip\", \"trivial_augment\", "
          "\"rand_augment\", \"color_jitter\", \"random_erasing\"]' --set dataset.erasing_prob=0.5");
  INFO(result.output);
  REQUIRE(result.code == 0);
  SQLite::Database db(dir / "ftrun.db");
  CHECK_THAT(db.execAndGet("SELECT value FROM run_params WHERE key = 'dataset.augment'").getString(),
             Contains("color_jitter") && Contains("random_erasing") && Contains("random_resized_crop") &&
                 Contains("trivial_augment") && Contains("rand_augment"));
  const auto typo = run(write(dir, "typo.toml", kTiny) + " --store " + (dir / "ftrun.db") +
                        " --set 'dataset.augment=[\"color_jiter\"]'");
  CHECK(typo.code == 2);
  CHECK_THAT(typo.output, Contains("did you mean 'color_jitter'"));
}
