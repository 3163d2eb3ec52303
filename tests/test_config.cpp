#include "config/core_keys.h"
#include "config/experiment.h"
#include "config/nearest_key.h"
#include "config/toml_depth.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

const std::string kBase = R"([experiment]
name = "demo"
seed = 3

[backbone]
type = "convnet"
width = 8

[dataset]
type = "fashion_mnist"
classes = [0, 1]

[head]
type = "linear"

[optimizer]
type = "sgd"
lr = 0.1

[[regularization]]
type = "label_smoothing"
epsilon = 0.1

[train]
epochs = 2
)";

ft::ExperimentPlan parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return ft::parse_experiment(text, "exp.toml", overrides);
}

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse(text, overrides);
  } catch (const ft::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

template <class T>
T param(const ft::RunConfig& run, const std::string& key) {
  for (const auto& [name, value] : run.flat_params) {
    if (name == key) return std::get<T>(value.data);
  }
  throw std::runtime_error("no flat param " + key);
}

}  // namespace

TEST_CASE("a valid experiment becomes one typed run with defaults filled in", "[config]") {
  const auto plan = parse(kBase);
  REQUIRE(plan.runs.size() == 1);
  const auto& run = plan.runs[0];
  CHECK(run.name == "demo");
  CHECK(run.seed == 3);
  CHECK(run.device == "auto");
  CHECK(run.backbone.type == "convnet");
  CHECK(run.backbone.params.required<std::int64_t>("width") == 8);
  CHECK_FALSE(run.backbone.params.contains("type"));
  CHECK(run.optimizer.params.required<double>("lr") == 0.1);
  REQUIRE(run.regularizations.size() == 1);
  CHECK(run.regularizations[0].type == "label_smoothing");
  CHECK(run.train.epochs == 2);
  CHECK(run.train.batch_size == 64);
  CHECK_THAT(run.resolved_toml, Contains("batch_size = 64"));
  CHECK_THAT(run.resolved_toml, Contains("lr = 0.1"));
  CHECK(param<double>(run, "optimizer.lr") == 0.1);
  CHECK(param<double>(run, "regularization.label_smoothing.epsilon") == 0.1);
  CHECK(param<std::int64_t>(run, "train.batch_size") == 64);
  // What the experiment wrote is not a default; what ftrun filled in is, and so is an override's absence.
  CHECK(run.default_keys.count("optimizer.lr") == 0);
  CHECK(run.default_keys.count("train.epochs") == 0);
  CHECK(run.default_keys.count("train.batch_size") == 1);
  CHECK(run.default_keys.count("train.patience") == 1);
  CHECK(run.default_keys.count("schedule.type") == 1);
  const auto overridden = parse(kBase, {"train.patience=3"});
  CHECK(overridden.runs[0].default_keys.count("train.patience") == 0);
  // A stage's keys and the base's are written; a plugin's defaults are added when the run is recorded.
  auto staged = parse(kBase + "\n[[stage]]\nname = \"a\"\n[stage.train]\npatience = 2\n").runs.at(0);
  CHECK(staged.default_keys.count("train.patience") == 0);
  CHECK(staged.default_keys.count("optimizer.lr") == 0);
  staged.optimizer.params.get<double>("weight_decay", 0.0);  // a plugin reads a key it was not given
  ft::record_plugin_defaults(staged);
  CHECK(staged.default_keys.count("optimizer.weight_decay") == 1);
  CHECK(param<double>(staged, "optimizer.weight_decay") == 0.0);
}

TEST_CASE("TOML syntax errors carry file:line:col", "[config]") {
  CHECK_THAT(error_of("[experiment]\nname = \"x\"\nseed = = 3\n"), StartsWith("exp.toml:3:"));
}

TEST_CASE("unknown keys are refused with the nearest valid key", "[config]") {
  std::string text = kBase;
  text.replace(text.find("epochs = 2"), 10, "epoch = 2");
  CHECK_THAT(error_of(text), StartsWith("exp.toml:25:1: unknown key 'epoch' in [train]; did you mean 'epochs'?"));
  CHECK_THAT(error_of(kBase + "\n[optimiser]\nx = 1\n"),
             Contains("unknown key 'optimiser' in the experiment file; did you mean 'optimizer'?"));
  CHECK_THAT(error_of(kBase + "\n[[stage]]\nname = \"a\"\n[stage.trian]\nepochs = 1\n"),
             Contains("unknown key 'trian' in [[stage]]; did you mean 'train'?"));
}

TEST_CASE("wrong types and bad values name the key and position", "[config]") {
  std::string text = kBase;
  text.replace(text.find("epochs = 2"), 10, "epochs = \"ten\"");
  CHECK(error_of(text) == "exp.toml:25:1: train.epochs: expected an integer, found a string (\"ten\")");
  text = kBase;
  text.replace(text.find("epochs = 2"), 10, "epochs = 0");
  CHECK(error_of(text) == "exp.toml:25:1: train.epochs: must be positive, got 0");
  CHECK_THAT(error_of(kBase, {"experiment.device=tpu"}), Contains("expected \"auto\", \"cpu\", \"cuda\""));
}

TEST_CASE("a missing section or type is reported", "[config]") {
  std::string text = kBase;
  text.replace(text.find("[dataset]"), 9, "[datasets]");
  CHECK_THAT(error_of(text), Contains("unknown key 'datasets' in the experiment file; did you mean 'dataset'?"));
  text = kBase;
  text.erase(text.find("[head]"), std::string("[head]\ntype = \"linear\"\n").size());
  CHECK(error_of(text) == "exp.toml:1:1: missing required section [head]");
  text = kBase;
  text.erase(text.find("type = \"sgd\""), std::string("type = \"sgd\"\n").size());
  CHECK_THAT(error_of(text), Contains("[optimizer] needs the key 'type'"));
}

TEST_CASE("set overrides any key, parsing TOML values and falling back to strings", "[config]") {
  const auto plan =
      parse(kBase, {"optimizer.lr=0.5", "train.epochs=7", "dataset.root=/data/fm", "optimizer.nesterov=true"});
  const auto& run = plan.runs[0];
  CHECK(run.optimizer.params.required<double>("lr") == 0.5);
  CHECK(run.optimizer.params.required<bool>("nesterov"));
  CHECK(run.train.epochs == 7);
  CHECK(run.dataset.params.required<std::string>("root") == "/data/fm");
  CHECK_THAT(error_of(kBase, {"optimizer.lr"}), Contains("expected key=value"));
  CHECK_THAT(error_of(kBase, {"optimizer={ lr = 0.1 }"}),
             Contains("--set optimizer={ lr = 0.1 }: the value must be a number, a string, a boolean or an array"));
  CHECK_THAT(error_of(kBase, {"train.epoch=3"}), Contains("--set train.epoch=3: unknown key 'epoch' in [train]"));
}

TEST_CASE("stages override the experiment and chain weights", "[config]") {
  const std::string text = kBase + R"(
[[stage]]
name = "pretrain"
[stage.dataset]
classes = [0, 1, 2]

[[stage]]
name = "finetune"
[stage.backbone]
weights = "stage:pretrain"
lr_mult = 0.1
[stage.optimizer]
type = "adamw"
lr = 0.001
)";
  const auto plan = parse(text, {"stage.finetune.train.epochs=9"});
  REQUIRE(plan.runs.size() == 2);
  CHECK(plan.runs[0].stage == "pretrain");
  CHECK(plan.runs[0].dataset.params.required<std::vector<std::int64_t>>("classes").size() == 3);
  CHECK(plan.runs[0].train.epochs == 2);
  const auto& finetune = plan.runs[1];
  CHECK(finetune.backbone.weights == "stage:pretrain");
  CHECK(finetune.backbone.lr_mult == 0.1);
  CHECK(finetune.backbone.params.required<std::int64_t>("width") == 8);  // inherited
  CHECK(finetune.train.epochs == 9);
  // A new optimizer type starts its section afresh: sgd's keys do not leak into adamw.
  CHECK(finetune.optimizer.type == "adamw");
  CHECK(finetune.optimizer.params.keys() == std::vector<std::string>{"lr"});
  CHECK_THAT(finetune.resolved_toml, Contains("stage = \"finetune\""));
}

TEST_CASE("stage mistakes are caught before anything runs", "[config]") {
  CHECK_THAT(error_of(kBase + "\n[[stage]]\nname = \"a\"\n[stage.backbone]\nweights = \"stage:pretrian\"\n"),
             Contains("no earlier stage named 'pretrian'"));
  CHECK_THAT(error_of(kBase + "\n[[stage]]\nname = \"a\"\n[[stage]]\nname = \"a\"\n"),
             Contains("a stage named 'a' already exists"));
  CHECK_THAT(error_of(kBase, {"backbone.weights=stage:x"}), Contains("the experiment has no [[stage]] tables"));
  CHECK_THAT(error_of(kBase, {"stage.nope.train.epochs=1"}), Contains("no stage named 'nope'"));
}

TEST_CASE("a missing, folder or endless experiment file is a clear error", "[config]") {
  CHECK_THROWS_WITH(ft::load_experiment("/no/such/file.toml"), "/no/such/file.toml: no such experiment file");
  CHECK_THROWS_WITH(ft::load_experiment("/tmp"), Contains("/tmp: is a folder"));
  CHECK_THROWS_WITH(ft::load_experiment("/dev/zero"), Contains("larger than 1024 KiB"));
}

TEST_CASE("every unknown key of every section is reported at once", "[config]") {
  std::string text = kBase;
  text.replace(text.find("epochs = 2"), 10, "epoch = 2\nbatch = 3");
  text.replace(text.find("seed = 3"), 8, "sed = 3");
  text += "\n[schedule]\ntype = \"cosine\"\nwarmup = 1\n";
  const std::string error = error_of(text);
  CHECK_THAT(error, Contains("exp.toml:3:1: unknown key 'sed' in [experiment]; did you mean 'seed'?"));
  CHECK_THAT(error, Contains("unknown key 'epoch' in [train]; did you mean 'epochs'?"));
  CHECK_THAT(error, Contains("unknown key 'batch' in [train]"));
  CHECK_THAT(error, Contains("unknown key 'warmup' in [schedule]"));
  CHECK_THAT(error, Contains("(4 problems)"));
  // A base section's problem is reported once, not once per stage.
  const std::string staged = error_of(text + "\n[[stage]]\nname = \"a\"\n[[stage]]\nname = \"b\"\n");
  CHECK_THAT(staged, Contains("(4 problems)"));
}

TEST_CASE("a section written as a value is refused, not ignored", "[config]") {
  CHECK_THAT(error_of(kBase, {"train=1"}),
             Contains("--set train=1: 'train' must be a table") && Contains("--set train.KEY=VALUE"));
  CHECK_THAT(error_of("schedule = \"cosine\"\n" + kBase), StartsWith("exp.toml:1:1: 'schedule' must be a table"));
  CHECK_THAT(error_of(kBase + "\n[[stage]]\nname = \"a\"\ntrain = 3\n"), Contains("'train' must be a table"));
  std::string text = kBase;
  text.replace(text.find("[[regularization]]"), 18, "[regularization]");
  CHECK_THAT(error_of(text), Contains("'regularization' must be an array of tables"));
}

TEST_CASE("hostile files get errors, not crashes", "[config]") {
  // 20,000 dotted parts in one table header: refused before toml++ parses it, with the header's position.
  std::string deep = "[a";
  for (int i = 0; i < 20000; ++i) deep += ".b";
  deep += "]\nx = 1\n";
  CHECK_THAT(error_of(deep), StartsWith("exp.toml:1:2: a dotted key with more than 64 parts"));
  // 33 levels pass the scan (64 parts) and are refused by the tree's own limit.
  std::string nested = "[a";
  for (int i = 0; i < 40; ++i) nested += ".b";
  CHECK_THAT(error_of(nested + "]\nx = 1\n"), Contains("nested more than 32 levels"));
  CHECK_THAT(error_of(kBase, {"a.b.c.d.e.f.g.h.i.j=1"}), Contains("not a valid dotted key"));
  std::string text = kBase;
  text.replace(text.find("lr = 0.1"), 8, "lr = nan");
  CHECK(error_of(text) == "exp.toml:18:6: 'lr': nan is not a usable value");
}

// toml++ recurses once per dotted part and per nested value: 100,000 of them overflowed the stack (signal 11)
// before ftrun's own depth limit could be checked. These cases crashed the process before the scan existed.
TEST_CASE("keys and values nested 100,000 deep are refused before parsing, with their position", "[config]") {
  std::string parts = "a";
  for (int i = 1; i < 100000; ++i) parts += ".a";
  CHECK_THAT(error_of(kBase + "[" + parts + "]\nx = 1\n"),
             StartsWith("exp.toml:26:2: a dotted key with more than 64 parts"));
  CHECK_THAT(error_of(kBase + parts + " = 1\n"), StartsWith("exp.toml:26:1: a dotted key with more than 64 parts"));
  CHECK_THAT(error_of(kBase + "[train]\nx = { " + parts + " = 1 }\n"),
             Contains("a dotted key with more than 64 parts"));
  CHECK_THAT(error_of(kBase + "x = " + std::string(100000, '[') + std::string(100000, ']') + "\n"),
             StartsWith("exp.toml:26:69: arrays or inline tables nested more than 64 deep"));
  // A --set value is TOML too, scanned the same way; one refused is taken as a string, as any text that is not a
  // TOML value is (the plugin's own type check then refuses it when the run is built).
  CHECK_NOTHROW(parse(kBase, {"optimizer.lr={" + parts + "=1}"}));
  CHECK_NOTHROW(parse(kBase, {"optimizer.lr=" + std::string(100000, '[')}));
  // Dots inside strings and comments are not keys; floats and dates carry one dot at most.
  std::string dotted_text(200, '.');
  CHECK_NOTHROW(ft::check_toml_depth(kBase + "# " + dotted_text + "\n[dataset.extra]\nnote = \"" + dotted_text +
                                         "\"\nmore = \'\'\'" + dotted_text +
                                         "\'\'\'\nvalues = [1.5, 2.5, 1979-05-27T07:32:00.5]\n",
                                     "exp.toml"));
}

TEST_CASE("nearest_key finds plausible typos only", "[config]") {
  const std::vector<std::string> keys{"epochs", "batch_size", "eval_every", "momentum"};
  CHECK(ft::nearest_key("epoch", keys) == "epochs");
  CHECK(ft::nearest_key("batchsize", keys) == "batch_size");
  CHECK(ft::nearest_key("momentun", keys) == "momentum");
  CHECK(ft::nearest_key("mometnum", keys) == "momentum");
  CHECK(ft::nearest_key("zzz", keys).empty());
}

TEST_CASE("schedules are validated with their own keys", "[config][schedule]") {
  const auto plan =
      parse(kBase + "\n[schedule]\ntype = \"multistep\"\nmilestones = [3, 6]\ngamma = 0.2\nwarmup_epochs = 1\n");
  const auto& schedule = plan.runs[0].schedule;
  CHECK(schedule.type == "multistep");
  CHECK(schedule.milestones == std::vector<std::int64_t>{3, 6});
  CHECK(schedule.gamma == 0.2);
  CHECK(schedule.warmup_epochs == 1);
  CHECK_THAT(error_of(kBase + "\n[schedule]\ntype = \"cosin\"\n"), Contains("got \"cosin\"; did you mean 'cosine'?"));
  CHECK_THAT(error_of(kBase + "\n[schedule]\ntype = \"cosine\"\ngamma = 0.1\n"),
             Contains("unknown key 'gamma' in [schedule]"));
  CHECK_THAT(error_of(kBase + "\n[schedule]\ntype = \"multistep\"\n"),
             Contains("[schedule] needs the key 'milestones'"));
  CHECK_THAT(error_of(kBase, {"train.monitor=val_los"}), Contains("did you mean 'val_loss'?"));
}

TEST_CASE("every core key reaches the resolved run with its effective value, defaults included", "[config][keys]") {
  const auto plan = parse(kBase + "\n[schedule]\ntype = \"cosine\"\n");
  const auto& run = plan.runs[0];
  std::size_t recorded = 0;
  for (const auto& key : ft::core_keys()) {
    if (key.applies && !key.applies(run)) continue;
    const auto value = key.value(run);
    if (!value) continue;
    INFO(key.section + "." + key.name);
    CHECK(std::any_of(run.flat_params.begin(), run.flat_params.end(),
                      [&](const auto& entry) { return entry.first == key.section + "." + key.name; }));
    ++recorded;
  }
  CHECK(recorded > 30);
  CHECK(param<double>(run, "backbone.layer_decay") == 1.0);
  CHECK(param<std::int64_t>(run, "dataset.crop_padding") == 4);
  CHECK(param<double>(run, "schedule.min_factor") == 0.0);
  CHECK(param<double>(run, "schedule.warmup_start") == 0.01);
  // Keys of other schedule types are not the run's: they are neither recorded nor accepted.
  CHECK(std::none_of(run.flat_params.begin(), run.flat_params.end(),
                     [](const auto& entry) { return entry.first == "schedule.gamma"; }));
  // An integer written for a number is recorded as the number it means.
  const auto widened = parse(kBase, {"backbone.lr_mult=1"});
  CHECK(param<double>(widened.runs[0], "backbone.lr_mult") == 1.0);
}

TEST_CASE("a resolved run read back gives the same run, so a resume trains with what was recorded", "[config][keys]") {
  const auto first = parse(kBase, {"train.eval_every=2", "dataset.crop_padding=6"}).runs[0];
  const auto again = ft::parse_resolved_run(first.resolved_toml, "run 1").runs[0];
  CHECK(again.resolved_toml == first.resolved_toml);
  CHECK(again.train.eval_every == 2);
  CHECK(again.augment.crop_padding == 6);
}

TEST_CASE("plugin defaults, once used, are recorded without replacing written values", "[config][keys]") {
  auto run = parse(kBase).runs[0];
  // What a plugin does when it builds: reads a written key and falls back on a default for another.
  CHECK(run.optimizer.params.get<double>("lr", 1.0) == 0.1);
  CHECK(run.optimizer.params.get<double>("momentum", 0.0) == 0.0);
  CHECK(run.optimizer.params.get<bool>("nesterov", false) == false);
  CHECK(run.regularizations[0].params.get<std::int64_t>("warmup", 3) == 3);
  ft::record_plugin_defaults(run);
  CHECK(param<double>(run, "optimizer.lr") == 0.1);
  CHECK(param<double>(run, "optimizer.momentum") == 0.0);
  CHECK(param<bool>(run, "optimizer.nesterov") == false);
  CHECK(param<std::int64_t>(run, "regularization.label_smoothing.warmup") == 3);
  CHECK_THAT(run.resolved_toml, Contains("momentum = 0.0"));
}

TEST_CASE("docs/experiments.md holds the reference table of core keys as ftrun keys prints it", "[config][keys]") {
  std::ifstream in(std::string(FT_SOURCE_DIR) + "/docs/experiments.md");
  std::stringstream text;
  text << in.rdbuf();
  INFO("regenerate it with: build/ftrun keys, between the core-keys markers");
  CHECK_THAT(text.str(), Contains("<!-- core-keys:begin -->\n" + ft::core_keys_markdown() + "<!-- core-keys:end -->"));
}
