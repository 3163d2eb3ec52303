#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "temp_dir.h"

#include <ftsdk/version.h>

#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <dlfcn.h>

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
  CHECK(catalog.types("optimizer") ==
        std::vector<std::string>{"adagrad", "adam", "adamw", "lamb", "lion", "rmsprop", "sgd"});
  CHECK(catalog.types("backbone") ==
        std::vector<std::string>{"bert", "convnet", "resnet101", "resnet152", "resnet18", "resnet34", "resnet50"});
  CHECK(catalog.types("head") == std::vector<std::string>{"cosine", "fcos", "linear", "mlp"});
  CHECK(catalog.types("regularization") == std::vector<std::string>{"cutmix", "l2sp", "label_smoothing", "mixup"});
  CHECK(catalog.types("dataset") == std::vector<std::string>{"cifar10", "cifar100", "coco", "fashion_mnist", "fortunes",
                                                             "image_folder", "text_tsv"});
  CHECK(catalog.types("task") == std::vector<std::string>{"classification", "detection", "masked_lm"});
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
  // Refused from its ELF headers, before dlopen: its static constructor never runs.
  const std::string marker = dir / "constructor-ran";
  setenv("FT_FIXTURE_MARKER", marker.c_str(), 1);
  CHECK_THAT(load_error(catalog, kFixtures + "/fixture_no_entry.so"),
             Contains("fixture_no_entry.so: no entry 'ftrun_plugin_entry' found") && Contains("nothing of it ran"));
  unsetenv("FT_FIXTURE_MARKER");
  CHECK_FALSE(std::filesystem::exists(marker));
  CHECK_THAT(load_error(catalog, kFixtures + "/fixture_wrong_abi.so"),
             Contains("fixture_wrong_abi.so: built against a newer ftsdk (plugin ABI 999); this ftrun 0.1.0 loads "
                      "ABI 5 to " +
                      std::to_string(ft::kPluginAbiVersion) + ": upgrade ftrun"));
  CHECK_THAT(load_error(catalog, kFixtures + "/fixture_sdk1.so"),
             Contains("found 4 (ftsdk 1); rebuild against ftsdk 2 (find_package(ftsdk 2)"));
  CHECK_THAT(load_error(catalog, kFixtures + "/fixture_wrong_torch.so"),
             Contains("built against LibTorch 1.13.1, but ftrun runs LibTorch 2.11.0"));
  CHECK(catalog.types("optimizer").empty());
}

TEST_CASE("a plugin built against ftsdk 2.1 (ABI 5, before the sampler kind) still loads and registers", "[loader]") {
  ft::PluginCatalog catalog;
  catalog.load_file(kFixtures + "/fixture_sdk21_plugin.so");
  CHECK(catalog.types("regularization") == std::vector<std::string>{"sdk21_zero"});
  CHECK(catalog.origin("regularization", "sdk21_zero").plugin->version == "2.1.0");
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
  // no_entry, wrong_abi, sdk1, wrong_torch, registration_throws, unresolved_symbol; duplicate_sgd loads (no sgd yet)
  CHECK(failures.size() == 6);
  CHECK(catalog.types("optimizer") == std::vector<std::string>{"forgetful", "no_lr", "sgd"});
  CHECK(catalog.failures().size() == 6);
  // The built-ins loaded after it find "sgd" taken: a conflict, which ftrun reports as a warning.
  catalog.load_folder(kPlugins);
  REQUIRE(catalog.conflicts().size() == 1);
  CHECK_THAT(catalog.conflicts()[0],
             Contains("ft_sgd.so") && Contains("already registered by") && Contains("fixture_duplicate_sgd.so"));
}

TEST_CASE("an unknown type lists the known ones and the nearest", "[loader]") {
  ft::PluginCatalog catalog;
  catalog.load_folder(kPlugins);
  ft::log::ComponentLogger log("test");
  try {
    catalog.make_optimizer("adamm", params_with("lr", 0.1), {{}, log});
    FAIL("expected an error");
  } catch (const ft::PluginError& e) {
    CHECK_THAT(
        e.what(),
        Contains("unknown optimizer type 'adamm'; did you mean 'adam'? (known: adagrad, adam, adamw, lamb, lion, "
                 "rmsprop, sgd)"));
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
  // RTLD_NOLOAD asks whether the library is loaded without loading it (it takes a reference when it is).
  const std::string path = kPlugins + "/ft_linear_head.so";
  void* loaded = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  CHECK(loaded != nullptr);
  if (loaded) dlclose(loaded);
  head.reset();
  // After the last object it made, the library really goes away (plugins are built unloadable).
  loaded = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  CHECK(loaded == nullptr);
  if (loaded) dlclose(loaded);
}

TEST_CASE("a plugin that throws something that is not a std::exception is reported, not fatal", "[loader]") {
  ft::PluginCatalog catalog;
  catalog.load_file(kFixtures + "/fixture_misbehaving_heads.so");
  ft::log::ComponentLogger log("test");
  CHECK_THROWS_AS(catalog.make_head("throws_int", ft::Params("head"), {8, 3, log}), ft::PluginError);
  CHECK_THROWS_WITH(catalog.make_head("throws_int", ft::Params("head"), {8, 3, log}),
                    Contains("fixture_misbehaving_heads.so: head 'throws_int'") && Contains("not a std::exception"));
}

TEST_CASE("an error thrown by a failed registration is readable after its library is unloaded", "[loader]") {
  ft::PluginCatalog catalog;
  const std::string path = kFixtures + "/fixture_registration_throws.so";
  // what() is called after load_file has returned and dropped the library: a copy must have been made.
  CHECK_THAT(load_error(catalog, path), Contains("registration failed") && Contains("refuses to register"));
  void* loaded = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  CHECK(loaded == nullptr);
  if (loaded) dlclose(loaded);
  CHECK(catalog.types("head").empty());
}

TEST_CASE("a library with an unresolved symbol is refused when loaded, naming the symbol", "[loader]") {
  ft::PluginCatalog catalog;
  CHECK_THAT(load_error(catalog, kFixtures + "/fixture_unresolved_symbol.so"),
             Contains("cannot load it") && Contains("ftrun_fixture_function_that_does_not_exist"));
  // In a folder it is one failure among others, not the end of the process.
  catalog.load_folder(kFixtures);
  CHECK_FALSE(catalog.failures().empty());
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
