// The Fashion-MNIST detection set (scripts/fashion_mnist_detection.py): written in COCO's format as ftrun's reader
// accepts it, the same for the same seed, and evaluated by ftrun's mAP as pycocotools evaluates it.

#include "coco_annotations.h"
#include "coco_evaluation.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace {

const std::string kFashionMnist = "/usr/share/datasets/fashion-mnist";

std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

int run(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string make_set(const std::string& out, int seed) {
  return std::string(FT_PYTHON) + " " + FT_SOURCE_DIR + "/scripts/fashion_mnist_detection.py " + out + " --seed " +
         std::to_string(seed) + " --train 20 --val 120 --test 10 > /dev/null";
}

}  // namespace

TEST_CASE("The Fashion-MNIST detection set is valid COCO, the same for the same seed", "[detection]") {
  if (!std::ifstream(kFashionMnist + "/t10k-images-idx3-ubyte.gz")) {
    WARN("not run: Debian's dataset-fashion-mnist is not installed");
    return;
  }
  TempDir temp;
  REQUIRE(run(make_set(temp / "a", 3)) == 0);
  REQUIRE(run(make_set(temp / "b", 3)) == 0);
  REQUIRE(run(make_set(temp / "c", 4)) == 0);
  for (const std::string split : {"train", "val", "test"}) {
    INFO(split);
    const std::string file = "/annotations/instances_" + split + ".json";
    const auto annotations = ft_plugins::read_coco_annotations(temp / ("a" + file));  // every check passes
    CHECK(annotations.categories.size() == 10);
    CHECK(annotations.objects.size() >= annotations.images.size());  // at least one item per canvas
    CHECK(ft_plugins::missing_image_files(annotations, temp / ("a/" + split)).empty());
    CHECK(read_text(temp / ("a" + file)) == read_text(temp / ("b" + file)));
    CHECK(read_text(temp / ("a" + file)) != read_text(temp / ("c" + file)));
    CHECK(read_text(temp / ("a/" + split + "/000001.png")) == read_text(temp / ("b/" + split + "/000001.png")));
  }
  CHECK(ft_plugins::read_coco_annotations(temp / "a/annotations/instances_val.json").images.size() == 120);
}

TEST_CASE("COCO mAP equals pycocotools' on the Fashion-MNIST detection set's validation split", "[detection]") {
  if (!std::ifstream(kFashionMnist + "/t10k-images-idx3-ubyte.gz")) {
    WARN("not run: Debian's dataset-fashion-mnist is not installed");
    return;
  }
  TempDir temp;
  REQUIRE(run(make_set(temp / "set", 0)) == 0);
  const auto annotations = ft_plugins::read_coco_annotations(temp / "set/annotations/instances_val.json");
  // Detections as a fair detector makes them: each object found with a jittered box (sometimes mislabelled,
  // sometimes twice), plus false alarms; scores on a coarse grid, so that ties occur.
  std::mt19937_64 engine(11);
  std::normal_distribution<double> jitter(0.0, 0.1);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto score = [&] { return std::round(unit(engine) * 20) / 20; };
  std::vector<ft_plugins::GroundTruthBox> objects;
  std::vector<ft_plugins::Detection> detections;
  for (const auto& object : annotations.objects) {
    const auto [x, y, w, h] = object.bbox;
    objects.push_back({object.id, object.image_id, object.category_id, {x, y, w, h}, object.area, object.crowd});
    for (int copy = 0; copy < (unit(engine) < 0.2 ? 2 : 1); ++copy) {
      const std::int64_t label =
          unit(engine) < 0.9 ? object.category_id : 1 + static_cast<std::int64_t>(unit(engine) * 10);
      detections.push_back(
          {object.image_id,
           label,
           {x + jitter(engine) * w, y + jitter(engine) * h, w * (1 + jitter(engine)), h * (1 + jitter(engine))},
           score()});
    }
  }
  for (const auto& image : annotations.images) {
    if (unit(engine) < 0.5) {
      detections.push_back({image.id,
                            1 + static_cast<std::int64_t>(unit(engine) * 10),
                            {unit(engine) * 100, unit(engine) * 100, 10 + unit(engine) * 20, 10 + unit(engine) * 20},
                            score()});
    }
  }
  nlohmann::json images = nlohmann::json::array(), categories = nlohmann::json::array(), case_json;
  std::vector<std::int64_t> image_ids, category_ids;
  for (const auto& image : annotations.images) image_ids.push_back(image.id);
  for (const auto& category : annotations.categories) category_ids.push_back(category.id);
  case_json["name"] = "Fashion-MNIST detection, validation split";
  case_json["images"] = image_ids;
  case_json["categories"] = category_ids;
  case_json["objects"] = nlohmann::json::array();
  for (const auto& object : objects) {
    case_json["objects"].push_back({{"id", object.id},
                                    {"image_id", object.image_id},
                                    {"category_id", object.category_id},
                                    {"bbox", {object.box.x, object.box.y, object.box.width, object.box.height}},
                                    {"area", object.area},
                                    {"iscrowd", object.crowd ? 1 : 0}});
  }
  case_json["detections"] = nlohmann::json::array();
  for (const auto& detection : detections) {
    case_json["detections"].push_back(
        {{"image_id", detection.image_id},
         {"category_id", detection.category_id},
         {"bbox", {detection.box.x, detection.box.y, detection.box.width, detection.box.height}},
         {"score", detection.score}});
  }
  std::ofstream(temp / "case.json") << case_json.dump();
  const std::string command = std::string(FT_PYTHON) + " " + FT_SOURCE_DIR +
                              "/tests/reference/coco_eval_reference.py " + (temp / "case.json") + " > " +
                              (temp / "stats.json");
  const int status = run(command);
  if (status == 77) {
    WARN("not run: pycocotools is not installed in " FT_PYTHON " (scripts/setup installs it)");
    return;
  }
  REQUIRE(status == 0);
  const auto reference = nlohmann::json::parse(read_text(temp / "stats.json"))[0]["stats"];
  const auto metrics = ft_plugins::evaluate_boxes(image_ids, category_ids, objects, detections).as_array();
  CHECK(metrics[0] > 0.2);  // a real curve, not an empty set
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    INFO(ft_plugins::CocoMetrics::names()[i]);
    CHECK(metrics[i] == Approx(reference[i].get<double>()).margin(1e-9));
  }
}
