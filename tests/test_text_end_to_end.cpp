// The text quickstart end to end at reduced size: masked-language-model pretraining of a small BERT on fortunes,
// then few-shot classification of other categories from it and from scratch, recorded with the tasks' metrics.
#include "ftrun_cli.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

using Catch::Matchers::Contains;
using namespace ftrun_test;

namespace {

// experiments/text_quickstart.toml, made small: a narrower encoder, fewer pretraining categories and epochs.
std::string reduced(const TempDir& dir) {
  return std::string(FT_SOURCE_DIR) + "/experiments/text_quickstart.toml --store " + (dir / "ftrun.db") +
         " --set backbone.hidden_size=32 --set dataset.vocab_size=800 --set dataset.max_length=32"
         " --set backbone.max_position=32"
         " --set 'dataset.tokenizer_categories=[\"law\", \"love\", \"pets\"]'"
         " --set 'stage.pretrain.dataset.categories=[\"law\", \"love\", \"pets\"]'"
         " --set stage.pretrain.train.epochs=2 --set stage.finetune.train.epochs=3 --set stage.scratch.train.epochs=3";
}

// A one-layer BERT pretrained as a masked language model on three fortune categories, for `epochs` epochs.
std::string tiny_masked_lm(const std::string& name, int epochs) {
  return R"([experiment]
name = ")" +
         name + R"("
seed = 3
device = "cpu"
[backbone]
type = "bert"
hidden_size = 32
num_layers = 1
num_heads = 2
max_position = 32
[dataset]
type = "fortunes"
categories = ["computers", "people", "definitions"]
vocab_size = 500
max_length = 32
[task]
type = "masked_lm"
[head]
type = "linear"
[optimizer]
type = "adamw"
lr = 0.001
[train]
epochs = )" +
         std::to_string(epochs) + R"(
batch_size = 32
test = false
)";
}

}  // namespace

TEST_CASE("the text quickstart pretrains with masked_lm, then fine-tunes and trains from scratch", "[e2e][text]") {
  TempDir dir;
  const auto result = run(reduced(dir));
  INFO(result.output);
  REQUIRE(result.code == 0);
  CHECK_THAT(result.output, Contains("tokenizer: SentencePiece"));
  CHECK_THAT(result.output, Contains("loaded"));  // the finetune stage starts from the pretrained encoder
  CHECK_THAT(result.output, Contains("perplexity"));

  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs WHERE status = 'completed'").getInt() == 3);
  CHECK(db.execAndGet("SELECT component FROM run_plugins p JOIN runs r ON r.id = p.run_id WHERE r.stage = "
                      "'pretrain' AND p.kind = 'task'")
            .getString() == "masked_lm");
  CHECK(db.execAndGet("SELECT component FROM run_plugins p JOIN runs r ON r.id = p.run_id WHERE r.stage = "
                      "'finetune' AND p.kind = 'task'")
            .getString() == "classification");
  // Pretraining reports perplexity (exp of the masked tokens' loss) and the masked tokens' accuracy.
  const double loss = last_metric(db, "pretrain", "val_loss"),
               perplexity = last_metric(db, "pretrain", "val_perplexity");
  CHECK(perplexity == Approx(std::exp(loss)).epsilon(1e-9));
  CHECK(perplexity < 800);  // better than a uniform guess over the vocabulary
  CHECK(last_metric(db, "pretrain", "train_perplexity") > 1);
  CHECK(last_metric(db, "pretrain", "test_perplexity") > 1);
  for (const char* stage : {"finetune", "scratch"}) {
    INFO(stage);
    const double accuracy = last_metric(db, stage, "val_accuracy");
    CHECK(accuracy >= 0);
    CHECK(accuracy <= 1);
    CHECK(last_metric(db, stage, "test_accuracy") >= 0);
  }
  // Classification stages saw 8 texts of each of 4 categories.
  CHECK(db.execAndGet("SELECT value FROM run_params p JOIN runs r ON r.id = p.run_id WHERE r.stage = 'finetune' AND "
                      "p.key = 'dataset.samples_per_class'")
            .getInt() == 8);

  // A typo in the task's metric is caught before anything runs, with the task's own metrics offered.
  const auto typo = run(reduced(dir) + " --set stage.pretrain.train.monitor=val_perplexty");
  CHECK(typo.code != 0);
  CHECK_THAT(typo.output, Contains("val_perplexity"));
}

TEST_CASE("a text backbone on an image dataset is refused before training, naming both", "[e2e][text]") {
  TempDir dir;
  const auto experiment = write(dir, "wrong.toml", replaced(kTiny, "type = \"convnet\"\nwidth = 4", "type = \"bert\""));
  const auto result = run(experiment + " --store " + (dir / "ftrun.db"));
  INFO(result.output);
  CHECK(result.code != 0);
  CHECK_THAT(result.output, Contains("backbone 'bert' needs a text dataset"));
}

TEST_CASE("a masked-language-model run resumed after Ctrl-C ends exactly as an uninterrupted one",
          "[e2e][text][resume]") {
  // The masks come from the run's per-epoch generator: a resumed epoch masks the same tokens as the uninterrupted
  // one did, so every step's loss is the same, bit for bit.
  TempDir dir;
  const auto experiment = write(dir, "mlm.toml", tiny_masked_lm("mlm_resume", 6));

  const auto whole = run(experiment + " --store " + (dir / "whole/ftrun.db"));
  INFO(whole.output);
  REQUIRE(whole.code == 0);
  const auto store = dir / "cut/ftrun.db";
  std::filesystem::create_directories(dir / "cut");
  CHECK(run_and_signal(experiment, store, "SELECT COUNT(*) FROM metrics WHERE scope = 'epoch'", SIGINT) == 130);
  const auto resumed = run("resume 1 --store " + store);
  INFO(resumed.output);
  REQUIRE(resumed.code == 0);
  // Epochs take a fraction of a second: the signal may land in the second epoch or a later one.
  CHECK_THAT(resumed.output, Contains("resuming after epoch"));
  SQLite::Database a(dir / "whole/ftrun.db"), b(store);
  CHECK(check_same_steps(a, b) > 0);  // bit for bit
  const auto perplexity = "SELECT value FROM metrics WHERE scope = 'epoch' AND epoch = 6 AND name = 'val_perplexity'";
  CHECK(b.execAndGet(perplexity).getDouble() == a.execAndGet(perplexity).getDouble());
}

TEST_CASE("a sweep judged by perplexity minimises it without being told", "[e2e][text][sweep]") {
  TempDir dir;
  const auto experiment = write(dir, "mlm_sweep.toml", tiny_masked_lm("mlm_sweep", 1) + R"([sweep]
method = "grid"
metric = "val_primary"
[sweep.params]
"optimizer.lr" = [0.001, 0.003]
)");

  const auto swept = run("sweep " + experiment + " --store " + (dir / "ftrun.db"));
  INFO(swept.output);
  REQUIRE(swept.code == 0);
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT direction FROM sweeps").getString() == "min");
  const auto status = run("sweep status --store " + (dir / "ftrun.db"));
  CHECK_THAT(status.output, Contains("objective lowest val_primary"));
}
