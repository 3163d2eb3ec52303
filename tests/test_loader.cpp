#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "temp_dir.h"

#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <fstream>

using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;

namespace {

const std::string kPlugins = FT_PLUGIN_DIR;
const std::string kFixtures = FT_FIXTURE_DIR;

std::string load_error(ft::PluginCatalog& catalog, const std::string& path) {
  try {
    catalog.load_file(path);
  } catch (const ft::PluginError& e) {
    return e.what();
  }
  return "(no error)";
}

ft::Params params_with(const std::string& key, double value) {
  ft::Params params("optimizer", {"exp.toml", 5, 1});
  ft::ParamValue v;
  v.data = value;
  v.where = {"exp.toml", 6, 1};
  params.set(key, v);
  return params;
}

}  // namespace

TEST_CASE("the built-in plugins load from their folder and register their components", "[loader]") {
  ft::PluginCatalog catalog;
  CHECK(catalog.load_folder(kPlugins).empty());
  CHECK(catalog.types("optimizer") == std::vector<std::string>{"adam", "adamw", "sgd"});
  CHECK(catalog.types("backbone") ==
        std::vector<std::string>{"convnet", "resnet101", "resnet152", "resnet18", "resnet34", "resnet50"});
  CHECK(catalog.types("head") == std::vector<std::string>{"linear", "mlp"});
  CHECK(catalog.types("regularization") == std::vector<std::string>{"l2sp", "label_smoothing"});
  CHECK(catalog.types("dataset") == std::vector<std::string>{"cifar10", "cifar100", "fashion_mnist", "image_folder"});
  const auto origin = catalog.origin("optimizer", "sgd");
  CHECK_THAT(origin.plugin->path, EndsWith("/ft_sgd.so"));
  CHECK(origin.plugin->name == "sgd");
  CHECK(origin.plugin->version == "1.0.0");
}

TEST_CASE("files that are not plugins are refused with what was expected and found", "[loader]") {
  TempDir dir;
  ft::PluginCatalog catalog;
  std::ofstream(dir / "notes.so") << "just some text, not ELF";
  CHECK_THAT(load_error(catalog, dir / "notes.so"), Contains("notes.so: cannot load it as a shared library"));
  CHECK_THAT(load_error(catalog, dir / "absent.so"), Contains("absent.so: file not found"));
  CHECK_THAT(load_error(catalog, kFixtures + "/fixture_no_entry.so"),
             Contains("fixture_no_entry.so: no entry 'ftrun_plugin_entry' found"));
  CHECK_THAT(load_error(catalog, kFixtures + "/fixture_wrong_abi.so"),
             Contains("fixture_wrong_abi.so: wrong plugin ABI version: expected 1, found 999"));
  CHECK_THAT(load_error(catalog, kFixtures + "/fixture_wrong_torch.so"),
             Contains("built against LibTorch 1.13.1, but ftrun runs LibTorch 2.11.0"));
  CHECK(catalog.types("optimizer").empty());
}

TEST_CASE("a component name registered twice is refused and the first stays", "[loader]") {
  ft::PluginCatalog catalog;
  catalog.load_file(kPlugins + "/ft_sgd.so");
  const std::string error = load_error(catalog, kFixtures + "/fixture_duplicate_sgd.so");
  CHECK_THAT(error, Contains("optimizer 'sgd' is already registered by"));
  CHECK_THAT(error, Contains("ft_sgd.so"));
  CHECK_THAT(catalog.origin("optimizer", "sgd").plugin->path, EndsWith("/ft_sgd.so"));
}

TEST_CASE("a folder with broken libraries loads the good ones and keeps the failures", "[loader]") {
  ft::PluginCatalog catalog;
  const auto failures = catalog.load_folder(kFixtures);
  CHECK(failures.size() == 3);  // no_entry, wrong_abi, wrong_torch; duplicate_sgd loads (no sgd yet)
  CHECK(catalog.types("optimizer") == std::vector<std::string>{"sgd"});
  CHECK(catalog.failures().size() == 3);
}

TEST_CASE("an unknown type lists the known ones and the nearest", "[loader]") {
  ft::PluginCatalog catalog;
  catalog.load_folder(kPlugins);
  ft::log::ComponentLogger log("test");
  try {
    catalog.make_optimizer("adamm", params_with("lr", 0.1), {{}, log});
    FAIL("expected an error");
  } catch (const ft::PluginError& e) {
    CHECK_THAT(e.what(), Contains("unknown optimizer type 'adamm'; did you mean 'adam'? (known: adam, adamw, sgd)"));
  }
}

TEST_CASE("a key the plugin never read is reported with the nearest key it did read", "[loader]") {
  ft::PluginCatalog catalog;
  catalog.load_folder(kPlugins);
  ft::log::ComponentLogger log("test");
  auto params = params_with("lr", 0.1);
  ft::ParamValue typo;
  typo.data = 0.9;
  typo.where = {"exp.toml", 7, 1};
  params.set("momentun", typo);
  auto weight = torch::zeros({2}, torch::requires_grad());
  CHECK_THROWS_WITH(catalog.make_optimizer("sgd", params, {{{"head", {weight}, 1.0}}, log}),
                    Contains("exp.toml:7:1: unknown key 'momentun' in [optimizer] for optimizer 'sgd'; did you "
                             "mean 'momentum'?"));
}

TEST_CASE("an object made by a plugin keeps its library loaded after the catalog is gone", "[loader]") {
  std::shared_ptr<ft::Head> head;
  {
    ft::PluginCatalog catalog;
    catalog.load_file(kPlugins + "/ft_linear_head.so");
    ft::log::ComponentLogger log("test");
    head = catalog.make_head("linear", ft::Params("head"), {8, 3, log});
  }
  // The catalog (and its reference to the library) is destroyed; the head's code must still be mapped.
  const auto logits = head->forward(torch::ones({2, 8}));
  CHECK(logits.sizes() == torch::IntArrayRef({2, 3}));
  head.reset();
}

TEST_CASE("optimizer plugins apply each group's learning-rate scale", "[loader]") {
  ft::PluginCatalog catalog;
  catalog.load_folder(kPlugins);
  ft::log::ComponentLogger log("test");
  auto a = torch::zeros({2}, torch::requires_grad());
  auto b = torch::zeros({2}, torch::requires_grad());
  for (const std::string type : {"sgd", "adam", "adamw"}) {
    auto optimizer =
        catalog.make_optimizer(type, params_with("lr", 0.1), {{{"backbone", {a}, 0.1}, {"head", {b}, 1.0}}, log});
    REQUIRE(optimizer->param_groups().size() == 2);
    CHECK(optimizer->param_groups()[0].options().get_lr() == Approx(0.01));
    CHECK(optimizer->param_groups()[1].options().get_lr() == Approx(0.1));
  }
}
