// ftrun's ResNets against torchvision's: same weights, same input, same features in eval mode and the same
// weights after one training step. The reference is computed by tests/reference/resnet_parity.py.
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "reference_script.h"
#include "temp_dir.h"

#include <torch/torch.h>
#include <catch2/catch.hpp>

namespace {

double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kFloat64), e = expected.to(torch::kFloat64);
  return ((a - e).abs().max() / (e.abs().max() + 1e-12)).item<double>();
}

void check_parity(const std::string& arch) {
  TempDir dir;
  ftrun_test::run_reference_script("resnet_parity.py", arch + " " + dir.path().string());
  const auto reference = ft::load_tensors(dir / "reference.safetensors");

  at::set_num_threads(1);
  ft::PluginCatalog catalog;
  catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_resnet.so");
  catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_linear_head.so");
  ft::log::ComponentLogger log("parity");
  auto backbone = catalog.make_backbone(arch, ft::Params("backbone"), {{3, 64, 64}, log, {}, false});
  auto head = catalog.make_head("linear", ft::Params("head"), {backbone->feature_size(), 10, log});
  ft::Classifier model(backbone, head);
  ft::load_backbone_weights(model, ft::load_tensors(dir / "weights.safetensors"), "torchvision", log);

  const auto input = reference.at("input");
  model.set_training(false);
  {
    torch::NoGradGuard no_grad;
    CHECK(relative_error(backbone->forward(input), reference.at("features_eval")) <= 1e-4);
  }

  model.set_training(true);
  torch::optim::SGD optimizer(backbone->parameters(), torch::optim::SGDOptions(0.1));
  (backbone->forward(input) * reference.at("probe")).sum().backward();
  optimizer.step();
  std::size_t compared = 0;
  for (const auto& [name, expected] : reference) {
    if (name.rfind("updated.", 0) != 0 || name.find("fc.") != std::string::npos) continue;
    const auto state = model.state();
    const auto actual = state.find("backbone." + name.substr(8));
    REQUIRE(actual != state.end());
    INFO(name);
    if (expected.is_floating_point()) {
      CHECK(relative_error(actual->second, expected) <= 1e-4);
    } else {
      CHECK(torch::equal(actual->second, expected));
    }
    ++compared;
  }
  CHECK(compared == model.backbone().named_parameters().size() + model.backbone().named_buffers().size());
}

}  // namespace

TEST_CASE("resnet18 matches torchvision in eval mode and after an SGD step", "[resnet][parity]") {
  check_parity("resnet18");
}

TEST_CASE("resnet50 matches torchvision in eval mode and after an SGD step", "[resnet][parity]") {
  check_parity("resnet50");
}
