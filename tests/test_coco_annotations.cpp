// The COCO annotation reader (plugins/dataset/coco/coco_annotations.cpp): a well-formed file read as COCO means
// it, every malformed one refused with the file and the annotation at fault, and the category and few-shot subsets.

#include "coco_annotations.h"

#include <ftsdk/error.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace {

using ft_plugins::parse_coco_annotations;
using nlohmann::json;

// Three images (the third without objects), two categories, a crowd region, an annotation without area.
json valid_file() {
  return json::parse(R"({
    "info": {"description": "test"},
    "images": [{"id": 1, "file_name": "a.png", "width": 128, "height": 96},
               {"id": 2, "file_name": "sub/b.png", "width": 64, "height": 64},
               {"id": 5, "file_name": "c.png", "width": 32, "height": 32}],
    "categories": [{"id": 7, "name": "bag"}, {"id": 3, "name": "shirt", "supercategory": "clothes"}],
    "annotations": [
      {"id": 10, "image_id": 1, "category_id": 3, "bbox": [0, 0, 20, 30], "area": 500.5, "iscrowd": 0},
      {"id": 11, "image_id": 1, "category_id": 7, "bbox": [100.5, 60, 28.2, 36], "iscrowd": true},
      {"id": 12, "image_id": 2, "category_id": 7, "bbox": [1, 2, 3, 4]}
    ]})");
}

std::string refusal(const json& file) {
  try {
    parse_coco_annotations(file.dump(), "instances_val.json");
  } catch (const ft::DataError& error) {
    return error.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("A COCO instances file is read as COCO means it", "[coco]") {
  const auto annotations = parse_coco_annotations(valid_file().dump(), "instances_val.json");
  REQUIRE(annotations.images.size() == 3);
  CHECK(annotations.images[1].file_name == "sub/b.png");
  CHECK(annotations.images[1].width == 64);
  REQUIRE(annotations.categories.size() == 2);
  CHECK(annotations.categories[0].name == "shirt");  // by id
  REQUIRE(annotations.objects.size() == 3);
  CHECK(annotations.objects[0].area == 500.5);  // the file's own area, not the box's
  CHECK_FALSE(annotations.objects[0].crowd);
  CHECK(annotations.objects[1].crowd);
  CHECK(annotations.objects[1].bbox[2] == 28.2);
  CHECK(annotations.objects[2].area == 12.0);  // none given: the box's
}

TEST_CASE("Every malformed COCO file is refused with the file and the annotation at fault", "[coco]") {
  CHECK_THAT(refusal(json::array()), Catch::Contains("expected a JSON object"));
  SECTION("not JSON: line and column") {
    try {
      parse_coco_annotations("{\n  \"images\": [\n    {\"id\": 1,,}\n", "instances_val.json");
      FAIL("accepted");
    } catch (const ft::DataError& error) {
      CHECK_THAT(error.what(), Catch::StartsWith("instances_val.json:3:") && Catch::Contains("not valid JSON"));
    }
  }
  CHECK_THROWS_WITH(parse_coco_annotations(R"({"images": [{"id": 1e4000}]})", "instances_val.json"),
                    Catch::Contains("instances_val.json: not valid JSON"));  // found by the fuzzer
  auto file = valid_file();
  SECTION("a missing array") {
    file.erase("categories");
    CHECK_THAT(refusal(file), Catch::Contains("has no 'categories' array"));
  }
  SECTION("an image without its size") {
    file["images"][1].erase("height");
    CHECK_THAT(refusal(file), Catch::Contains("instances_val.json: image 2 has no 'height'"));
  }
  SECTION("an image path leaving the folder") {
    file["images"][0]["file_name"] = "../../etc/passwd";
    CHECK_THAT(refusal(file), Catch::Contains("image 1 has file_name '../../etc/passwd', which is not a path inside"));
  }
  SECTION("a duplicate image id") {
    file["images"][2]["id"] = 1;
    CHECK_THAT(refusal(file), Catch::Contains("image id 1 appears twice"));
  }
  SECTION("an annotation on an unknown image") {
    file["annotations"][2]["image_id"] = 99;
    CHECK_THAT(refusal(file), Catch::Contains("annotation 12 is on image 99, which 'images' lacks"));
  }
  SECTION("an unknown category") {
    file["annotations"][0]["category_id"] = 4;
    CHECK_THAT(refusal(file), Catch::Contains("annotation 10 has category_id 4, which 'categories' lacks"));
  }
  SECTION("a box outside its image") {
    file["annotations"][2]["bbox"] = {50, 50, 20, 4};
    CHECK_THAT(refusal(file),
               Catch::Contains("annotation 12 has bbox [50,50,20,4] outside its image 2 (sub/b.png, 64x64)"));
  }
  SECTION("a box a fraction of a pixel over the border, as COCO's own files have") {
    file["annotations"][2]["bbox"] = {0, 0, 64.4, 64.2};
    CHECK(refusal(file) == "(accepted)");
  }
  SECTION("a box with a negative size, or not four numbers") {
    file["annotations"][2]["bbox"] = {10, 10, -3, 4};
    CHECK_THAT(refusal(file), Catch::Contains("annotation 12 has bbox [10,10,-3,4] with a negative width or height"));
    file["annotations"][2]["bbox"] = {10, 10, 3};
    CHECK_THAT(refusal(file), Catch::Contains("annotation 12 has bbox [10,10,3], expected [x, y, width, height]"));
    file["annotations"][2]["bbox"] = {10, 10, "3", 4};
    CHECK_THAT(refusal(file), Catch::Contains("expected [x, y, width, height]"));
  }
  SECTION("a mistyped id or crowd flag") {
    file["annotations"][1]["id"] = "eleven";
    CHECK_THAT(refusal(file), Catch::Contains("annotations[1] has 'id' \"eleven\", expected an integer"));
    file["annotations"][1]["id"] = 11;
    file["annotations"][1]["iscrowd"] = 2;
    CHECK_THAT(refusal(file), Catch::Contains("annotation 11 has iscrowd 2, expected 0 or 1"));
  }
  SECTION("a duplicate annotation id or category") {
    file["annotations"][2]["id"] = 10;
    CHECK_THAT(refusal(file), Catch::Contains("annotation id 10 appears twice"));
    file["annotations"][2]["id"] = 12;
    file["categories"][1]["name"] = "bag";
    CHECK_THAT(refusal(file), Catch::Contains("repeats category name 'bag'"));
  }
  SECTION("a missing file") {
    CHECK_THROWS_WITH(ft_plugins::read_coco_annotations("/nonexistent/instances_train.json"),
                      Catch::Contains("COCO annotation file /nonexistent/instances_train.json not found"));
  }
}

TEST_CASE("A category subset keeps every image and only those categories' objects", "[coco]") {
  const auto annotations = parse_coco_annotations(valid_file().dump(), "instances_val.json");
  const auto bags = ft_plugins::keep_categories(annotations, {"bag"}, "instances_val.json");
  CHECK(bags.images.size() == 3);
  REQUIRE(bags.categories.size() == 1);
  CHECK(bags.categories[0].id == 7);
  CHECK(bags.objects.size() == 2);
  CHECK_THROWS_WITH(ft_plugins::keep_categories(annotations, {"bags"}, "instances_val.json"),
                    Catch::Contains("has no category 'bags' (it has: shirt, bag)"));
}

TEST_CASE("A few-shot subset has N images per category, drawn the same way for the same seed", "[coco]") {
  // 40 images: category 1 on every image, category 2 on every fourth, a crowd of category 3 on image 0, and
  // every fifth image empty.
  json file = {
      {"images", json::array()},
      {"annotations", json::array()},
      {"categories", {{{"id", 1}, {"name", "one"}}, {{"id", 2}, {"name", "two"}}, {{"id", 3}, {"name", "three"}}}}};
  int next = 1;
  for (int image = 0; image < 40; ++image) {
    file["images"].push_back(
        {{"id", image}, {"file_name", std::to_string(image) + ".png"}, {"width", 50}, {"height", 50}});
    if (image % 5 == 4) continue;
    file["annotations"].push_back({{"id", next++}, {"image_id", image}, {"category_id", 1}, {"bbox", {1, 1, 10, 10}}});
    if (image % 4 == 0) {
      file["annotations"].push_back(
          {{"id", next++}, {"image_id", image}, {"category_id", 2}, {"bbox", {5, 5, 10, 10}}});
    }
  }
  file["annotations"].push_back(
      {{"id", next++}, {"image_id", 0}, {"category_id", 3}, {"bbox", {0, 0, 50, 50}}, {"iscrowd", 1}});
  const auto annotations = parse_coco_annotations(file.dump(), "instances_train.json");

  const auto subset = ft_plugins::few_shot(annotations, 3, 7);
  std::map<std::int64_t, std::set<std::int64_t>> images_of;
  for (const auto& object : subset.objects) {
    if (!object.crowd) images_of[object.category_id].insert(object.image_id);
  }
  CHECK(images_of[1].size() >= 3);
  CHECK(images_of[2].size() >= 3);
  CHECK(subset.images.size() < 10);
  for (const auto& image : subset.images) CHECK(image.id % 5 != 4);  // no empty image
  const auto again = ft_plugins::few_shot(annotations, 3, 7);
  REQUIRE(again.images.size() == subset.images.size());
  CHECK(std::equal(subset.images.begin(), subset.images.end(), again.images.begin(),
                   [](const auto& a, const auto& b) { return a.id == b.id; }));
  const auto other = ft_plugins::few_shot(annotations, 3, 8);
  CHECK_FALSE((other.images.size() == subset.images.size() &&
               std::equal(subset.images.begin(), subset.images.end(), other.images.begin(),
                          [](const auto& a, const auto& b) { return a.id == b.id; })));
  CHECK(ft_plugins::few_shot(annotations, 1000, 7).images.size() == 32);  // every image with objects
}

TEST_CASE("Missing image files are named, up to a limit", "[coco]") {
  const auto annotations = parse_coco_annotations(valid_file().dump(), "instances_val.json");
  const auto missing = ft_plugins::missing_image_files(annotations, "/nonexistent", 2);
  REQUIRE(missing.size() == 2);
  CHECK(missing[0] == "/nonexistent/a.png");
  CHECK(missing[1] == "/nonexistent/sub/b.png");
}
