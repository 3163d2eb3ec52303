#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "model/precision.h"
#include "temp_dir.h"

#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using Catch::Matchers::Contains;

namespace {

const std::string kPlugins = FT_PLUGIN_DIR;

struct Fixture {
  ft::PluginCatalog catalog;
  ft::log::ComponentLogger log{"test"};

  Fixture() { catalog.load_folder(kPlugins); }

  std::shared_ptr<ft::Classifier> model(std::int64_t width = 4, std::int64_t classes = 3) {
    ft::Params params("backbone");
    ft::ParamValue w;
    w.data = width;
    params.set("width", w);
    auto backbone = catalog.make_backbone("convnet", params, {{1, 28, 28}, log, {}, false});
    auto head = catalog.make_head("linear", ft::Params("head"), {backbone->feature_size(), classes, log});
    return std::make_shared<ft::Classifier>(backbone, head);
  }
};

}  // namespace

TEST_CASE("freezing by prefix stops gradients and keeps frozen BatchNorm statistics", "[runner]") {
  Fixture f;
  auto model = f.model();
  const auto frozen = model->freeze({"block1"});
  CHECK(frozen == 6);  // two convs and two BatchNorms (weight, bias)
  for (const auto& item : model->named_parameters()) {
    const bool in_block1 = item.key().rfind("backbone.block1.", 0) == 0;
    CHECK(item.value().requires_grad() == !in_block1);
  }
  model->set_training(true);
  const auto before = model->state().at("backbone.block1.1.running_mean").clone();
  const auto block2_before = model->state().at("backbone.block2.1.running_mean").clone();
  model->forward(torch::randn({8, 1, 28, 28}) * 3 + 1);
  CHECK(torch::equal(model->state().at("backbone.block1.1.running_mean"), before));
  CHECK_FALSE(torch::equal(model->state().at("backbone.block2.1.running_mean"), block2_before));
}

TEST_CASE("a freeze prefix that matches nothing is an error naming the modules", "[runner]") {
  Fixture f;
  auto model = f.model();
  CHECK_THROWS_WITH(model->freeze({"blok1"}), Contains("'blok1' matches no parameter of the backbone; did you mean "
                                                       "'block1'?"));
  CHECK(model->freeze({"*"}) == static_cast<std::int64_t>(model->backbone().parameters().size()));
}

TEST_CASE("checkpoints round-trip and backbone weights move to a model with a new head", "[runner]") {
  Fixture f;
  TempDir dir;
  auto source = f.model(4, 5);
  ft::save_tensors(source->state(), dir / "ckpt/last.pt");
  CHECK(std::filesystem::exists(dir / "ckpt/last.pt"));
  CHECK(std::distance(std::filesystem::directory_iterator(dir / "ckpt"), {}) == 1);  // no temporary left

  const auto loaded = ft::load_tensors(dir / "ckpt/last.pt");
  CHECK(loaded.size() == source->state().size());
  auto target = f.model(4, 3);  // other classes: a head of another shape
  ft::load_backbone_weights(*target, loaded, "ckpt", f.log);
  CHECK(torch::equal(target->state().at("backbone.block2.0.weight"), source->state().at("backbone.block2.0.weight")));
  CHECK(target->state().at("head.fc.weight").size(0) == 3);
}

TEST_CASE("weights of another shape or with missing tensors are refused by name", "[runner]") {
  Fixture f;
  auto wide = f.model(8);
  auto narrow = f.model(4);
  CHECK_THROWS_WITH(ft::load_backbone_weights(*narrow, wide->state(), "wide.pt", f.log),
                    Contains("block1.0.weight: the backbone expects [4, 1, 3, 3], wide.pt holds [8, 1, 3, 3]"));
  auto partial = narrow->state();
  partial.erase("backbone.block3.0.weight");
  CHECK_THROWS_WITH(ft::load_backbone_weights(*narrow, partial, "partial.pt", f.log),
                    Contains("1 backbone tensor(s) missing: block3.0.weight"));
}

TEST_CASE("a file that is not a checkpoint is refused", "[runner]") {
  TempDir dir;
  std::ofstream(dir / "junk.pt") << "junk";
  CHECK_THROWS_AS(ft::load_tensors(dir / "junk.pt"), ft::DataError);
  CHECK_THROWS_WITH(ft::load_tensors(dir / "none.pt"), Contains("none.pt not found"));
}

TEST_CASE("a folder where weights or a checkpoint belong is a data error naming it", "[runner]") {
  TempDir dir;
  for (const std::string name : {"last.pt", "resnet18.safetensors"}) {
    std::filesystem::create_directories(dir / name);
    CHECK_THROWS_MATCHES(ft::load_tensors(dir / name), ft::DataError,
                         Catch::Matchers::Message("weights file " + (dir / name) + " is a folder, not a file"));
  }
}

TEST_CASE("fp16 loss scaling unscales gradients, and refuses a step with an inf gradient", "[precision]") {
  ft::LossScaler scaler(true, 1024.0, 2);
  auto weight = torch::ones({3}, torch::requires_grad());
  weight.mutable_grad() = torch::full({3}, 2048.0);
  CHECK(scaler.unscale_and_check({weight}));
  CHECK(torch::allclose(weight.grad(), torch::full({3}, 2.0)));
  scaler.update(true);
  CHECK(scaler.scale() == 1024.0);

  weight.mutable_grad() = torch::tensor({1.0f, std::numeric_limits<float>::infinity(), 0.0f});
  CHECK_FALSE(scaler.unscale_and_check({weight}));
  scaler.update(false);
  CHECK(scaler.scale() == 512.0);
  CHECK(scaler.skipped_steps() == 1);
  scaler.update(true);
  scaler.update(true);
  CHECK(scaler.scale() == 1024.0);  // grows back after growth_interval good steps

  ft::LossScaler off(false);
  CHECK(off.scale() == 1.0);
}

TEST_CASE("channels-last conversion keeps values and changes the layout", "[precision]") {
  Fixture f;
  auto model = f.model();
  const auto before = model->state().at("backbone.block1.0.weight").clone();
  ft::to_channels_last(*model);
  const auto after = model->state().at("backbone.block1.0.weight");
  CHECK(after.is_contiguous(at::MemoryFormat::ChannelsLast));
  CHECK(torch::equal(after, before));
  CHECK(model->forward(torch::randn({2, 1, 28, 28}).contiguous(at::MemoryFormat::ChannelsLast)).sizes() ==
        torch::IntArrayRef({2, 3}));
}

TEST_CASE("a writer killed in the middle of a checkpoint leaves the previous checkpoint intact",
          "[runner][checkpoint]") {
  TempDir dir;
  const std::string path = dir / "last.pt";
  ft::save_tensors({{"w", torch::full({100, 100}, 1.0)}}, path);
  // Made before fork(): the child only serialises and writes, no LibTorch thread pool needed.
  const ft::TensorMap big{{"w", torch::full({4000, 4000}, 2.0)}};
  const pid_t child = fork();
  if (child == 0) {
    for (;;) ft::save_tensors(big, path);
  }
  const std::string partial = path + ".tmp." + std::to_string(child);
  bool writing = false;
  for (int i = 0; i < 5000 && !writing; ++i) {
    writing = std::filesystem::exists(partial) && std::filesystem::file_size(partial) > 0;
    if (!writing) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  REQUIRE(writing);
  const auto loaded = ft::load_tensors(path);  // the old checkpoint, or a complete new one: never a torn file
  const auto& w = loaded.at("w");
  const bool old_one = w.sizes() == torch::IntArrayRef({100, 100}) && w.eq(1.0).all().item<bool>();
  const bool new_one = w.sizes() == torch::IntArrayRef({4000, 4000}) && w.eq(2.0).all().item<bool>();
  CHECK((old_one || new_one));
}

TEST_CASE("backbones split at their stages compute what their forward computes", "[runner][feature_cache]") {
  Fixture fixture;
  ft::log::ComponentLogger log("test");
  for (const std::string type : {"convnet", "resnet18"}) {
    INFO(type);
    auto backbone = fixture.catalog.make_backbone(type, ft::Params("backbone"), {{3, 32, 32}, log, {}, false});
    REQUIRE(backbone->splits_at_stages());
    backbone->eval();
    torch::NoGradGuard no_grad;
    const auto images = torch::randn({2, 3, 32, 32});
    const auto whole = backbone->forward(images);
    const auto stages = backbone->stages().size();
    for (std::size_t k = 0; k <= stages; ++k) {
      const auto split = backbone->forward_stages(backbone->forward_stages(images, 0, k), k, stages);
      CHECK(torch::equal(split, whole));
    }
  }
}
