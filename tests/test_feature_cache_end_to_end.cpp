// Linear probing on cached features: the frozen backbone runs once per image, and the run records exactly what
// the uncached run records.
#include "ftrun_cli.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

using Catch::Matchers::Contains;

namespace {

// The whole backbone frozen, no augmentation; the head has dropout (random numbers after the cache) and the loss
// label smoothing (a regularization that leaves batches alone).
std::string linear_probe() {
  return replaced(replaced(kTiny, "width = 4", "width = 8\nfreeze = [\"*\"]"), "type = \"linear\"",
                  "type = \"linear\"\ndropout = 0.2");
}

}  // namespace

TEST_CASE("training on cached activations records the same losses and weights as without the cache",
          "[e2e][feature_cache]") {
  // The whole backbone frozen (linear probing), or its first two of three stages (the third trains).
  const auto [freeze, message] = GENERATE(table<std::string, std::string>(
      {{"[\"*\"]", "the frozen backbone ran once over"},
       {"[\"block1\", \"block2\"]", "the backbone's 2 frozen stage(s) ran once over"}}));
  INFO(freeze);
  TempDir dir;
  const auto experiment = write(dir, "probe.toml", replaced(linear_probe(), "freeze = [\"*\"]", "freeze = " + freeze));
  const auto plain = run(experiment + " --store " + (dir / "plain/ftrun.db") + " --set train.feature_cache=off");
  REQUIRE(plain.code == 0);
  CHECK_THAT(plain.output, !Contains("feature cache"));
  const auto cached = run(experiment + " --store " + (dir / "cached/ftrun.db") + " --set train.test=true");
  INFO(cached.output);
  REQUIRE(cached.code == 0);
  CHECK_THAT(cached.output, Contains("feature cache: " + message));

  SQLite::Database a(dir / "plain/ftrun.db"), b(dir / "cached/ftrun.db");
  CHECK(check_same_steps(a, b) > 0);  // bit for bit
  CHECK(b.execAndGet("SELECT val_loss FROM epoch_metrics WHERE epoch = 2").getDouble() ==
        a.execAndGet("SELECT val_loss FROM epoch_metrics WHERE epoch = 2").getDouble());
  CHECK(checkpoints_agree(a.execAndGet("SELECT checkpoint_path FROM runs").getString(),
                          b.execAndGet("SELECT checkpoint_path FROM runs").getString(), "not k.startswith('__ftrun__')",
                          "torch.equal(x, y)"));
}

// One meaning for a frozen backbone: lr_mult = 0 once stepped the backbone at rate 0 with BatchNorm in training
// mode, so its statistics followed the batches, the feature cache was refused, and the result differed from the
// linear probe written as freeze = ["*"].
TEST_CASE("backbone.lr_mult = 0 is freeze = [\"*\"]: the same linear probe, cached, row for row",
          "[e2e][feature_cache]") {
  TempDir dir;
  const auto probe = write(dir, "probe.toml", linear_probe());
  const auto zero = write(dir, "zero.toml", replaced(linear_probe(), "freeze = [\"*\"]", "lr_mult = 0"));
  const auto frozen = run(probe + " --store " + (dir / "frozen/ftrun.db"));
  REQUIRE(frozen.code == 0);
  const auto zero_rate = run(zero + " --store " + (dir / "zero/ftrun.db"));
  INFO(zero_rate.output);
  REQUIRE(zero_rate.code == 0);
  CHECK_THAT(zero_rate.output, Contains("(*: backbone.lr_mult = 0)"));
  CHECK_THAT(zero_rate.output, Contains("feature cache: the frozen backbone ran once over"));
  SQLite::Database a(dir / "frozen/ftrun.db"), b(dir / "zero/ftrun.db");
  CHECK(check_same_steps(a, b) > 0);
  CHECK(b.execAndGet("SELECT val_loss FROM epoch_metrics WHERE epoch = 2").getDouble() ==
        a.execAndGet("SELECT val_loss FROM epoch_metrics WHERE epoch = 2").getDouble());
  // Only the head is in the optimizer: no backbone learning rate is recorded.
  CHECK(b.execAndGet("SELECT COUNT(*) FROM metrics WHERE name = 'lr/backbone'").getInt() == 0);
}

TEST_CASE("the feature cache says why it is not used when augmentation reaches the backbone", "[e2e][feature_cache]") {
  TempDir dir;
  const auto experiment = write(dir, "probe.toml",
                                replaced(linear_probe(), "validation_fraction = 0.02",
                                         "validation_fraction = 0.02\n"
                                         "augment = [\"hflip\"]"));
  const auto result = run(experiment + " --store " + (dir / "ftrun.db"));
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK_THAT(result.output, Contains("feature cache not used: dataset.augment changes the images"));
}

TEST_CASE("a feature cache on disk is reused by the next run with the same frozen stages and data",
          "[e2e][feature_cache]") {
  TempDir dir;
  const auto experiment =
      write(dir, "probe.toml", replaced(linear_probe(), "freeze = [\"*\"]", "freeze = [\"block1\", \"block2\"]"));
  const auto store = " --store " + (dir / "ftrun.db") + " --set train.feature_cache=disk";
  const auto first = run(experiment + store);
  INFO(first.output);
  REQUIRE(first.code == 0);
  CHECK_THAT(first.output, Contains("in a file under"));
  const auto second = run(experiment + store);
  INFO(second.output);
  REQUIRE(second.code == 0);
  CHECK_THAT(second.output, Contains("feature cache: reused the activations of the backbone's 2 frozen stage(s)"));
  // Another seed draws another validation split: its own cache, not the first one's.
  const auto other_seed = run(experiment + store + " --set experiment.seed=11");
  REQUIRE(other_seed.code == 0);
  CHECK_THAT(other_seed.output, !Contains("reused"));

  SQLite::Database db(dir / "ftrun.db");
  const std::string same_steps =
      "SELECT COUNT(*) FROM metrics a JOIN metrics b ON a.step = b.step AND a.name = b.name AND a.scope = b.scope "
      "WHERE a.scope = 'step' AND a.run_id = 1 AND b.run_id = 2 AND a.value = b.value";
  CHECK(db.execAndGet(same_steps).getInt() ==
        db.execAndGet("SELECT COUNT(*) FROM metrics WHERE scope = 'step' AND run_id = 1").getInt());
  CHECK(db.execAndGet("SELECT COUNT(*) FROM metrics WHERE scope = 'step' AND run_id = 1").getInt() > 0);
}
