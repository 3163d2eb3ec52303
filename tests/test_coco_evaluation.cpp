// COCO box mAP (plugins/task/detection/coco_evaluation.cpp) against pycocotools' COCOeval on the same
// detections: crafted cases (crowd regions, no predictions, duplicates, ties in score, area ranges, over 100
// detections on an image) and random sets.

#include "coco_evaluation.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <cstdio>
#include <memory>
#include <string>

namespace {

using ft_plugins::CocoBox;

// The reference's cases with their COCOeval stats; nothing when pycocotools is missing (the script exits 77).
nlohmann::json pycocotools_reference() {
  const std::string command = std::string(FT_PYTHON) + " " + FT_SOURCE_DIR + "/tests/reference/coco_eval_reference.py";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string text;
  char buffer[65536];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, n);
  const int status = pclose(pipe);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return nullptr;
  REQUIRE(status == 0);
  return nlohmann::json::parse(text);
}

CocoBox box_of(const nlohmann::json& json) { return {json[0], json[1], json[2], json[3]}; }

}  // namespace

TEST_CASE("COCO box mAP equals pycocotools' COCOeval on crafted and random detection sets", "[detection]") {
  const auto cases = pycocotools_reference();
  if (cases.is_null()) {
    WARN("not run: pycocotools is not installed in " FT_PYTHON " (scripts/setup installs it)");
    return;
  }
  REQUIRE(cases.size() == 8);
  for (const auto& reference : cases) {
    INFO(reference["name"].get<std::string>());
    std::vector<ft_plugins::GroundTruthBox> objects;
    for (const auto& row : reference["objects"]) {
      objects.push_back({row["id"], row["image_id"], row["category_id"], box_of(row["bbox"]), row["area"],
                         row["iscrowd"].get<int>() != 0});
    }
    std::vector<ft_plugins::Detection> detections;
    for (const auto& row : reference["detections"]) {
      detections.push_back({row["image_id"], row["category_id"], box_of(row["bbox"]), row["score"]});
    }
    const auto metrics =
        ft_plugins::evaluate_boxes(reference["images"], reference["categories"], objects, detections).as_array();
    for (std::size_t i = 0; i < metrics.size(); ++i) {
      INFO(ft_plugins::CocoMetrics::names()[i]);
      CHECK(metrics[i] == Approx(reference["stats"][i].get<double>()).margin(1e-9));
    }
  }
}

TEST_CASE("COCO's box IoU: the detection's own area stands for the union on a crowd region", "[detection]") {
  const CocoBox crowd{0, 0, 100, 100}, inside{10, 10, 20, 20};
  CHECK(ft_plugins::coco_box_iou(inside, crowd, true) == Approx(1.0));
  CHECK(ft_plugins::coco_box_iou(inside, crowd, false) == Approx(400.0 / 10000.0));
  CHECK(ft_plugins::coco_box_iou({200, 200, 5, 5}, crowd, false) == 0.0);
  CHECK(ft_plugins::coco_box_iou({100, 0, 5, 5}, crowd, false) == 0.0);  // touching edges share no area
}

TEST_CASE("COCO mAP refuses detections on images outside the evaluated set", "[detection]") {
  CHECK_THROWS_WITH(ft_plugins::evaluate_boxes({1, 2}, {1}, {}, {{7, 1, {0, 0, 1, 1}, 0.5}}),
                    Catch::Contains("image 7, which is not in the evaluated set"));
}
