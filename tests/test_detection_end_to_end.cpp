// Detection through the ftrun binary: the detection quickstart at reduced size on a small Fashion-MNIST detection
// set (pretrain a ResNet-18 as a classifier, then an FCOS detector from it and from scratch), its COCO metrics and
// loss parts in the store, the query commands on its runs, and what a detection run refuses before recording.
#include "ftrun_cli.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <csignal>
#include <fstream>
#include <sstream>

using Catch::Matchers::Contains;
using namespace ftrun_test;

namespace {

// experiments/detection_quickstart.toml, made small: fewer pretraining images, a narrow head, few epochs.
std::string reduced(const TempDir& dir, const std::string& set) {
  std::string args = std::string(FT_SOURCE_DIR) + "/experiments/detection_quickstart.toml --store " +
                     (dir / "ftrun.db") + " --set experiment.device=cpu" +
                     " --set stage.pretrain.dataset.samples_per_class=40 --set stage.pretrain.train.epochs=1";
  for (const std::string stage : {"finetune", "scratch"}) {
    const std::string at = " --set stage." + stage + ".";
    args += at + "dataset.root=" + set + at + "dataset.shots=3" + at + "head.channels=32" + at + "head.convolutions=1" +
            at + "train.epochs=2" + at + "train.eval_every=1" + at + "train.batch_size=4";
  }
  return args;
}

// tiny_detection on a set of several image sizes: each image's shorter side to 80 or 96 while training (96 for
// evaluation), its longer at most 160, flipped and shrunk at random while training.
std::string several_sizes(const std::string& set, int epochs) {
  return replaced(replaced(tiny_detection(set), "channels = 1",
                           "channels = 1\nmin_size = [80, 96]\nmax_size = 160\nhflip = true\n"
                           "scale_range = [0.6, 1.0]"),
                  "epochs = 2", "epochs = " + std::to_string(epochs));
}

}  // namespace

TEST_CASE("the detection quickstart pretrains a classifier, then trains FCOS from it and from scratch",
          "[e2e][detection]") {
  TempDir dir;
  const auto set = detection_set(dir, "--seed 5 --train 60 --val 16 --test 16");
  const auto result = run(reduced(dir, set));
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK_THAT(result.output, Contains("loaded"));  // the finetune stage starts from the pretrained ResNet

  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs WHERE status = 'completed'").getInt() == 3);
  CHECK(db.execAndGet("SELECT primary_metric FROM runs WHERE stage = 'finetune'").getString() == "ap");
  for (const std::string stage : {"finetune", "scratch"}) {
    INFO(stage);
    // COCO's numbers from every validation and test detection: between 0 and 1 (NaN only for a size range
    // without objects, which these canvases' 20-60 pixel items leave small and medium filled).
    for (const std::string name : {"val_ap", "val_ap50", "val_ap75", "val_ar100", "test_ap"}) {
      const double value = last_metric(db, stage, name);
      INFO(name);
      CHECK(value >= 0);
      CHECK(value <= 1);
    }
    // The three loss parts per epoch, adding up to the loss.
    const double parts = last_metric(db, stage, "train_classification_loss") +
                         last_metric(db, stage, "train_box_loss") + last_metric(db, stage, "train_centerness_loss");
    CHECK(parts == Approx(last_metric(db, stage, "train_loss")).epsilon(1e-4));
    CHECK(last_metric(db, stage, "val_box_loss") > 0);
  }
  // Training keeps no detections: no train_ap is recorded.
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE name = 'train_ap'").getInt() == 0);

  // The query commands answer for detection runs by their primary metric.
  const std::string store = " --store " + (dir / "ftrun.db");
  const auto runs = run("runs" + store);
  CHECK(runs.code == 0);
  CHECK_THAT(runs.output, Contains("ap"));
  const auto show = run("show 2" + store);
  CHECK(show.code == 0);
  // The primary metric's curve, then the task's other metrics per epoch: COCO's numbers and the loss parts.
  CHECK_THAT(show.output, Contains("val_ap") && Contains("val_ap50") && Contains("train_box_loss"));
  CHECK_THAT(show.output, !Contains("train_ap"));  // the mAP is evaluation's alone: no column of dashes
  const auto compare = run("compare backbone.weights" + store);
  INFO(compare.output);
  CHECK(compare.code == 0);
  CHECK(run("overfit" + store).code == 0);
  CHECK(run("plot 2 3 -o " + (dir / "curves.svg") + store).code == 0);
  std::ifstream svg(dir / "curves.svg");
  std::stringstream text;
  text << svg.rdbuf();
  CHECK_THAT(text.str(), Contains("<svg"));
}

TEST_CASE("a detection run refuses what would move images without their boxes, before recording anything",
          "[e2e][detection]") {
  TempDir dir;
  const auto set = detection_set(dir, "--seed 5 --train 60 --val 16 --test 16");
  const std::string store = " --store " + (dir / "ftrun.db");
  struct Case {
    std::string extra, message;
  };
  const std::vector<Case> cases = {
      {"[[regularization]]\ntype = \"mixup\"\n", "works on class labels"},
      {"[[regularization]]\ntype = \"label_smoothing\"\n", "works on class labels"},
      {"", "would move the images without their boxes"},  // with --set dataset.augment below
      {"", "feature pyramid, which the cache does not hold"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto experiment = write(dir, "case" + std::to_string(i) + ".toml", tiny_detection(set, cases[i].extra));
    std::string args = experiment + store;
    if (i == 2) args += " --set 'dataset.augment=[\"hflip\"]'";
    if (i == 3) args += " --set train.feature_cache=memory";
    const auto result = run(args);
    INFO(result.output);
    CHECK(result.code == 2);
    CHECK_THAT(result.output, Contains(cases[i].message));
  }
  // A head that reads no pyramid, under the detection task, is refused by name.
  const auto linear =
      run(write(dir, "linear.toml", replaced(tiny_detection(set), "type = \"fcos\"", "type = \"linear\"")) + store);
  INFO(linear.output);
  CHECK(linear.code == 3);
  CHECK_THAT(linear.output, Contains("head 'linear' does not read a feature pyramid"));
  SQLite::Database db(dir / "ftrun.db", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  const bool has_runs = db.tableExists("runs");
  CHECK((!has_runs || db.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 0));
}

TEST_CASE("lr-find and a sweep run on a detection experiment", "[e2e][detection]") {
  TempDir dir;
  const auto set = detection_set(dir, "--seed 5 --train 24 --val 8 --test 4");
  const std::string store = " --store " + (dir / "ftrun.db");
  const auto experiment = write(dir, "tiny.toml", tiny_detection(set));
  const auto lr = run("lr-find " + experiment + " --steps 12 --start 1e-5 --end 1" + store);
  INFO(lr.output);
  CHECK(lr.code == 0);
  CHECK_THAT(lr.output, Contains("recommended:"));

  const auto sweep =
      write(dir, "sweep.toml",
            tiny_detection(set,
                           "[sweep]\nmethod = \"grid\"\nmetric = \"val_primary\"\n[sweep.params]\n\"optimizer.lr\" = "
                           "[0.001, 0.0003]\n"));
  const auto swept = run("sweep " + sweep + store + " --set train.epochs=1");
  INFO(swept.output);
  CHECK(swept.code == 0);
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs WHERE status = 'completed' AND stage != 'lr_find'").getInt() == 2);
}

TEST_CASE("a detection run trains and evaluates on images of several sizes, resized and padded as torchvision does",
          "[e2e][detection]") {
  TempDir dir;
  const auto set = detection_set(dir, "--seed 5 --train 40 --val 12 --test 4 --canvas 70 170");
  const auto result = run(write(dir, "sizes.toml", several_sizes(set, 2)) + " --store " + (dir / "ftrun.db"));
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK_THAT(result.output, Contains("images up to"));
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT status FROM runs").getString() == "completed");
  const double ap = last_metric(db, "", "val_ap");
  CHECK(ap >= 0);
  CHECK(ap <= 1);
  CHECK(last_metric(db, "", "train_box_loss") > 0);
}

TEST_CASE("a detection run on images of several sizes, stopped by Ctrl-C and resumed, ends as an uninterrupted one",
          "[e2e][detection][resume]") {
  TempDir dir;
  const auto set = detection_set(dir, "--seed 5 --train 40 --val 12 --test 4 --canvas 70 170");
  const auto experiment = write(dir, "sizes.toml", several_sizes(set, 3));
  REQUIRE(run(experiment + " --store " + (dir / "whole.db")).code == 0);
  // Stopped once the first epoch is recorded, i.e. during the second; its flips and shrinks are drawn again.
  CHECK(run_and_signal(experiment, dir / "cut.db", "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'", SIGINT) ==
        130);
  const auto resumed = run("resume 1 --store " + (dir / "cut.db"));
  INFO(resumed.output);
  REQUIRE(resumed.code == 0);
  CHECK_THAT(resumed.output, Contains("resuming after epoch 1"));
  SQLite::Database whole(dir / "whole.db"), cut(dir / "cut.db");
  const std::string rows =  // every recorded number but the timings
      "SELECT epoch, step, name, value FROM metrics WHERE name NOT IN ('seconds', 'images_per_second') "
      "ORDER BY scope, epoch, step, name";
  SQLite::Statement a(whole, rows), b(cut, rows);
  int compared = 0;
  while (a.executeStep()) {
    REQUIRE(b.executeStep());
    INFO(a.getColumn(2).getString() << " at epoch " << a.getColumn(0).getInt() << ", step " << a.getColumn(1).getInt());
    CHECK(b.getColumn(2).getString() == a.getColumn(2).getString());
    CHECK(b.getColumn(3).getDouble() == a.getColumn(3).getDouble());  // bit for bit, the mAP included
    ++compared;
  }
  CHECK_FALSE(b.executeStep());
  CHECK(compared > 30);
}
