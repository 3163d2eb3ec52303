// ftrun's FCOS (plugins/task/detection/fcos.cpp) against torchvision's on the same weights and inputs: the
// pyramid, the heads' outputs, the anchors, the three losses and their gradients for images with no, one and
// many objects, and the detections after NMS. The reference is tests/reference/fcos_parity.py.
#include "fcos.h"
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
  REQUIRE(actual.sizes() == expected.sizes());
  if (expected.numel() == 0) return 0;
  const auto a = actual.to(torch::kFloat64), e = expected.to(torch::kFloat64);
  return ((a - e).abs().max() / (e.abs().max() + 1e-12)).item<double>();
}

void load_into(torch::nn::Module& module, const std::string& prefix, const ft::TensorMap& weights) {
  torch::NoGradGuard no_grad;
  std::size_t loaded = 0;
  for (auto& parameter : module.named_parameters()) {
    INFO(prefix + parameter.key());
    const auto found = weights.find(prefix + parameter.key());
    REQUIRE(found != weights.end());
    parameter.value().copy_(found->second);
    ++loaded;
  }
  std::size_t expected = 0;
  for (const auto& entry : weights) expected += entry.first.rfind(prefix, 0) == 0 ? 1 : 0;
  CHECK(loaded == expected);  // every torchvision parameter has its place, under the same name
}

}  // namespace

TEST_CASE("FCOS equals torchvision's: pyramid, heads, anchors, losses, gradients and detections", "[detection]") {
  TempDir dir;
  ftrun_test::run_reference_script("fcos_parity.py", dir.path().string());
  const auto weights = ft::load_tensors(dir / "weights.safetensors");
  const auto reference = ft::load_tensors(dir / "reference.safetensors");
  at::set_num_threads(1);

  ft_plugins::fcos::FeaturePyramid pyramid_network({32, 64, 128}, 64);
  ft_plugins::fcos::Head head(64, 5);
  load_into(pyramid_network, "fpn.", weights);
  load_into(head, "head.", weights);

  const std::vector<torch::Tensor> features{reference.at("features.0"), reference.at("features.1"),
                                            reference.at("features.2")};
  const auto pyramid = pyramid_network.forward(features);
  REQUIRE(pyramid.size() == 5);
  for (std::size_t i = 0; i < pyramid.size(); ++i) {
    INFO("P" << i + 3);
    CHECK(relative_error(pyramid[i], reference.at("pyramid." + std::to_string(i))) <= 1e-5);
  }
  const auto outputs = head.forward(pyramid);
  CHECK(relative_error(outputs.class_logits, reference.at("cls_logits")) <= 1e-5);
  CHECK(relative_error(outputs.box_regression, reference.at("bbox_regression")) <= 1e-5);
  CHECK(relative_error(outputs.centerness, reference.at("bbox_ctrness")) <= 1e-5);
  const auto anchors = ft_plugins::fcos::anchors(pyramid, 256, 256);
  CHECK(torch::equal(anchors, reference.at("anchors")));

  std::vector<ft_plugins::fcos::Targets> targets;
  for (int i = 0; i < 3; ++i) {
    targets.push_back({reference.at("targets." + std::to_string(i) + ".boxes"),
                       reference.at("targets." + std::to_string(i) + ".labels")});
  }
  const auto losses = ft_plugins::fcos::losses(outputs, anchors, targets);
  CHECK(relative_error(losses.classification.reshape(1), reference.at("loss.classification")) <= 1e-4);
  CHECK(relative_error(losses.box_regression.reshape(1), reference.at("loss.bbox_regression")) <= 1e-4);
  CHECK(relative_error(losses.centerness.reshape(1), reference.at("loss.bbox_ctrness")) <= 1e-4);
  losses.total().backward();
  for (auto* module : {static_cast<torch::nn::Module*>(&pyramid_network), static_cast<torch::nn::Module*>(&head)}) {
    const std::string prefix = module == &head ? "grad.head." : "grad.fpn.";
    for (const auto& parameter : module->named_parameters()) {
      INFO(prefix + parameter.key());
      REQUIRE(parameter.value().grad().defined());
      CHECK(relative_error(parameter.value().grad(), reference.at(prefix + parameter.key())) <= 1e-4);
    }
  }

  torch::NoGradGuard no_grad;
  const std::vector<std::pair<std::int64_t, std::int64_t>> sizes{{256, 256}, {240, 200}, {256, 180}};
  for (const std::string threshold : {"0.2", "0.5", "0.6"}) {
    ft_plugins::fcos::DetectionSettings settings;
    settings.score_threshold = std::stod(threshold);
    const auto detections = ft_plugins::fcos::detect(outputs, anchors, sizes, settings);
    for (std::size_t i = 0; i < detections.size(); ++i) {
      const std::string key = "detections." + threshold + "." + std::to_string(i) + ".";
      INFO(key);
      CHECK(relative_error(detections[i].boxes, reference.at(key + "boxes")) <= 1e-4);
      CHECK(relative_error(detections[i].scores, reference.at(key + "scores")) <= 1e-4);
      CHECK(torch::equal(detections[i].labels, reference.at(key + "labels")));
    }
  }
}

// The plugins as a run builds them (resnet50 and the fcos head), loaded with torchvision's fcos_resnet50_fpn weights
// as scripts/export_weights.py writes them: every tensor has its place, and the outputs are torchvision's.
TEST_CASE("torchvision's fcos_resnet50_fpn weights load into resnet50 + fcos unchanged and give its outputs",
          "[detection]") {
  TempDir dir;
  ftrun_test::run_reference_script("fcos_model.py", dir.path().string());
  const auto reference = ft::load_tensors(dir / "reference.safetensors");
  const auto weights = ft::load_tensors(dir / "weights.safetensors");

  at::set_num_threads(1);
  ft::PluginCatalog catalog;
  catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_resnet.so");
  catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_detection.so");
  ft::log::ComponentLogger log("fcos");
  auto backbone = catalog.make_backbone("resnet50", ft::Params("backbone"), {{3, 96, 128}, log, {}, false});
  auto head =
      catalog.make_head("fcos", ft::Params("head"), {backbone->feature_size(), 91, log, backbone->pyramid_channels()});
  ft::Classifier model(backbone, head);
  // As a run loads them: `[backbone] weights` and `[head] weights` on the same file.
  ft::load_backbone_weights(model, weights, "torchvision", log);
  ft::load_head_weights(model, weights, "torchvision", log);
  CHECK(model.state().size() == weights.size());  // every tensor of torchvision's has its place

  // For other classes, only the class logits start new.
  auto few =
      catalog.make_head("fcos", ft::Params("head"), {backbone->feature_size(), 5, log, backbone->pyramid_channels()});
  ft::Classifier fine_tuned(backbone, few);
  ft::load_head_weights(fine_tuned, weights, "torchvision", log);
  for (const auto& item : few->named_parameters()) {
    INFO(item.key());
    const bool logits = item.key().find("cls_logits") != std::string::npos;
    CHECK(torch::equal(item.value(), weights.at("head." + item.key())) != logits);
  }
  model.set_training(false);
  torch::NoGradGuard no_grad;
  const auto input = reference.at("input");
  const auto packed = model.head().forward_pyramid(model.backbone().forward_pyramid(input), 96, 128);
  const auto outputs = ft_plugins::fcos::unpack(packed, 91);
  CHECK(relative_error(outputs.outputs.class_logits, reference.at("class_logits")) <= 1e-4);
  CHECK(relative_error(outputs.outputs.box_regression, reference.at("box_regression")) <= 1e-4);
  CHECK(relative_error(outputs.outputs.centerness, reference.at("centerness")) <= 1e-4);
  CHECK(relative_error(outputs.anchors, reference.at("anchors")) == 0);
}

TEST_CASE("NMS keeps exactly torchvision's boxes, in its order, on ties in score and in IoU", "[detection]") {
  TempDir dir;
  ftrun_test::run_reference_script("nms_reference.py", dir.path().string());
  const auto reference = ft::load_tensors(dir / "nms.safetensors");
  for (const std::string set : {"many", "few"}) {
    const auto& boxes = reference.at(set + ".boxes");
    const auto& scores = reference.at(set + ".scores");
    const auto& labels = reference.at(set + ".labels");
    for (const std::string threshold : {"0.3", "0.5", "0.6", "0.7"}) {
      INFO(set << " boxes, IoU threshold " << threshold);
      const auto kept = ft_plugins::fcos::nms(boxes, scores, std::stod(threshold));
      CHECK(torch::equal(kept, reference.at(set + ".nms." + threshold)));
      const auto batched = ft_plugins::fcos::batched_nms(boxes, scores, labels, std::stod(threshold));
      CHECK(torch::equal(batched, reference.at(set + ".batched." + threshold)));
      CHECK(batched.size(0) > 20);
    }
  }
}
