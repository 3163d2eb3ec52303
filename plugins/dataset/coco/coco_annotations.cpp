#include "coco_annotations.h"

#include <ftsdk/error.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace ft_plugins {
namespace {

using nlohmann::json;

// COCO's boxes are rounded from polygons; its own files overshoot the image by fractions of a pixel.
constexpr double kBorderSlack = 1.0;

// Line and column of byte `offset` (1-based, as nlohmann counts) in `text`.
std::string line_and_column(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i + 1 < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// Reads the fields of one JSON object of the file, naming it (`annotation 17`, `images[3]`) in every error.
class Fields {
 public:
  Fields(const json& object, const std::string& path, std::string where)
      : object_(object), path_(path), where_(std::move(where)) {
    if (!object_.is_object()) fail("is not a JSON object");
  }

  [[noreturn]] void fail(const std::string& what) const { throw ft::DataError(path_ + ": " + where_ + " " + what); }
  void rename(std::string where) { where_ = std::move(where); }
  bool has(const char* key) const { return object_.contains(key) && !object_.at(key).is_null(); }

  const json& field(const char* key) const {
    if (!has(key)) fail("has no '" + std::string(key) + "'");
    return object_.at(key);
  }
  std::int64_t integer(const char* key) const {
    const json& value = field(key);
    if (value.is_number_integer() && (!value.is_number_unsigned() || value.get<std::uint64_t>() <= INT64_MAX)) {
      return value.get<std::int64_t>();
    }
    fail("has '" + std::string(key) + "' " + value.dump() + ", expected an integer");
  }
  double number(const char* key) const {
    const json& value = field(key);
    if (!value.is_number() || !std::isfinite(value.get<double>())) {
      fail("has '" + std::string(key) + "' " + value.dump() + ", expected a number");
    }
    return value.get<double>();
  }
  std::string text(const char* key) const {
    const json& value = field(key);
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
      fail("has '" + std::string(key) + "' " + value.dump() + ", expected a non-empty string");
    }
    return value.get<std::string>();
  }

 private:
  const json& object_;
  const std::string& path_;
  std::string where_;
};

const json& array_of(const json& root, const char* key, const std::string& path) {
  if (!root.contains(key) || !root.at(key).is_array()) {
    throw ft::DataError(path + ": has no '" + key + "' array (a COCO instances file has 'images', 'annotations' and " +
                        "'categories')");
  }
  return root.at(key);
}

CocoImage read_image(const json& entry, std::size_t index, const std::string& path) {
  Fields fields(entry, path, "images[" + std::to_string(index) + "]");
  CocoImage image;
  image.id = fields.integer("id");
  fields.rename("image " + std::to_string(image.id));
  image.file_name = fields.text("file_name");
  const std::filesystem::path file(image.file_name);
  const bool escapes = std::any_of(file.begin(), file.end(), [](const auto& part) { return part == ".."; });
  if (file.is_absolute() || escapes) {
    fields.fail("has file_name '" + image.file_name + "', which is not a path inside the image folder");
  }
  image.width = fields.integer("width");
  image.height = fields.integer("height");
  if (image.width <= 0 || image.height <= 0) {
    fields.fail("has size " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                ", expected positive width and height");
  }
  return image;
}

CocoObject read_object(const json& entry, std::size_t index, const std::string& path,
                       const std::unordered_map<std::int64_t, const CocoImage*>& images,
                       const std::unordered_set<std::int64_t>& categories) {
  Fields fields(entry, path, "annotations[" + std::to_string(index) + "]");
  CocoObject object;
  object.id = fields.integer("id");
  fields.rename("annotation " + std::to_string(object.id));
  object.image_id = fields.integer("image_id");
  const auto image = images.find(object.image_id);
  if (image == images.end()) fields.fail("is on image " + std::to_string(object.image_id) + ", which 'images' lacks");
  object.category_id = fields.integer("category_id");
  if (!categories.count(object.category_id)) {
    fields.fail("has category_id " + std::to_string(object.category_id) + ", which 'categories' lacks");
  }
  const json& bbox = fields.field("bbox");
  if (!bbox.is_array() || bbox.size() != 4 || !std::all_of(bbox.begin(), bbox.end(), [](const json& v) {
        return v.is_number() && std::isfinite(v.get<double>());
      })) {
    fields.fail("has bbox " + bbox.dump() + ", expected [x, y, width, height] in pixels");
  }
  for (std::size_t i = 0; i < 4; ++i) object.bbox[i] = bbox[i].get<double>();
  const auto [x, y, width, height] = object.bbox;
  if (width < 0 || height < 0) fields.fail("has bbox " + bbox.dump() + " with a negative width or height");
  const CocoImage& on = *image->second;
  if (x < -kBorderSlack || y < -kBorderSlack || x + width > static_cast<double>(on.width) + kBorderSlack ||
      y + height > static_cast<double>(on.height) + kBorderSlack) {
    fields.fail("has bbox " + bbox.dump() + " outside its image " + std::to_string(on.id) + " (" + on.file_name + ", " +
                std::to_string(on.width) + "x" + std::to_string(on.height) + ")");
  }
  object.area = fields.has("area") ? fields.number("area") : width * height;
  if (object.area < 0) fields.fail("has a negative area");
  if (fields.has("iscrowd")) {
    const json& crowd = fields.field("iscrowd");
    if (crowd.is_boolean()) {
      object.crowd = crowd.get<bool>();
    } else if (crowd.is_number_integer() && (crowd.get<std::int64_t>() == 0 || crowd.get<std::int64_t>() == 1)) {
      object.crowd = crowd.get<std::int64_t>() == 1;
    } else {
      fields.fail("has iscrowd " + crowd.dump() + ", expected 0 or 1");
    }
  }
  return object;
}

}  // namespace

CocoAnnotations parse_coco_annotations(std::string_view text, const std::string& path) {
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& error) {
    throw ft::DataError(path + ":" + line_and_column(text, error.byte) + ": not valid JSON (" + error.what() + ")");
  } catch (const json::exception& error) {  // a number too large for a double, which nlohmann reports apart
    throw ft::DataError(path + ": not valid JSON (" + error.what() + ")");
  }
  if (!root.is_object()) throw ft::DataError(path + ": expected a JSON object with images, annotations and categories");

  CocoAnnotations annotations;
  std::unordered_map<std::int64_t, const CocoImage*> images;
  const json& image_entries = array_of(root, "images", path);
  annotations.images.reserve(image_entries.size());
  for (std::size_t i = 0; i < image_entries.size(); ++i) {
    annotations.images.push_back(read_image(image_entries[i], i, path));
  }
  for (const auto& image : annotations.images) {
    if (!images.emplace(image.id, &image).second) {
      throw ft::DataError(path + ": image id " + std::to_string(image.id) + " appears twice in 'images'");
    }
  }

  std::unordered_set<std::int64_t> category_ids;
  std::set<std::string> category_names;
  const json& category_entries = array_of(root, "categories", path);
  for (std::size_t i = 0; i < category_entries.size(); ++i) {
    Fields fields(category_entries[i], path, "categories[" + std::to_string(i) + "]");
    CocoCategory category{fields.integer("id"), fields.text("name")};
    if (!category_ids.insert(category.id).second) fields.fail("repeats category id " + std::to_string(category.id));
    if (!category_names.insert(category.name).second) fields.fail("repeats category name '" + category.name + "'");
    annotations.categories.push_back(std::move(category));
  }
  std::sort(annotations.categories.begin(), annotations.categories.end(),
            [](const CocoCategory& a, const CocoCategory& b) { return a.id < b.id; });

  std::unordered_set<std::int64_t> object_ids;
  const json& object_entries = array_of(root, "annotations", path);
  annotations.objects.reserve(object_entries.size());
  for (std::size_t i = 0; i < object_entries.size(); ++i) {
    annotations.objects.push_back(read_object(object_entries[i], i, path, images, category_ids));
    if (!object_ids.insert(annotations.objects.back().id).second) {
      throw ft::DataError(path + ": annotation id " + std::to_string(annotations.objects.back().id) +
                          " appears twice in 'annotations'");
    }
  }
  return annotations;
}

CocoAnnotations read_coco_annotations(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw ft::DataError("COCO annotation file " + path + " not found (a COCO set is an instances_<split>.json " +
                        "file beside its image folder; see docs/experiments.md, Detection)");
  }
  std::ostringstream text;
  text << file.rdbuf();
  return parse_coco_annotations(text.str(), path);
}

CocoAnnotations keep_categories(const CocoAnnotations& annotations, const std::vector<std::string>& names,
                                const std::string& path) {
  std::set<std::string> wanted(names.begin(), names.end());
  CocoAnnotations kept;
  kept.images = annotations.images;
  std::unordered_set<std::int64_t> kept_ids;
  for (const auto& category : annotations.categories) {
    if (wanted.erase(category.name)) {
      kept.categories.push_back(category);
      kept_ids.insert(category.id);
    }
  }
  if (!wanted.empty()) {
    std::string there;
    for (const auto& category : annotations.categories) there += (there.empty() ? "" : ", ") + category.name;
    throw ft::DataError(path + " has no category '" + *wanted.begin() + "' (it has: " + there + ")");
  }
  for (const auto& object : annotations.objects) {
    if (kept_ids.count(object.category_id)) kept.objects.push_back(object);
  }
  return kept;
}

CocoAnnotations few_shot(const CocoAnnotations& annotations, std::int64_t shots, std::uint64_t seed) {
  std::map<std::int64_t, std::set<std::int64_t>> shown;  // image id -> categories of its objects (not crowds)
  for (const auto& object : annotations.objects) {
    if (!object.crowd) shown[object.image_id].insert(object.category_id);
  }
  // Fisher-Yates with the engine's raw output: std::shuffle and the standard distributions differ between
  // standard libraries, and the subset must not.
  std::vector<std::size_t> order(annotations.images.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 engine(seed);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[engine() % i]);

  std::map<std::int64_t, std::int64_t> taken;  // category id -> images kept that show it
  std::unordered_set<std::int64_t> kept_images;
  for (const std::size_t index : order) {
    const auto found = shown.find(annotations.images[index].id);
    if (found == shown.end()) continue;
    const bool wanted = std::any_of(found->second.begin(), found->second.end(),
                                    [&](std::int64_t category) { return taken[category] < shots; });
    if (!wanted) continue;
    kept_images.insert(found->first);
    for (const std::int64_t category : found->second) ++taken[category];
  }
  CocoAnnotations subset;
  subset.categories = annotations.categories;
  for (const auto& image : annotations.images) {
    if (kept_images.count(image.id)) subset.images.push_back(image);
  }
  for (const auto& object : annotations.objects) {
    if (kept_images.count(object.image_id)) subset.objects.push_back(object);
  }
  return subset;
}

std::vector<std::string> missing_image_files(const CocoAnnotations& annotations, const std::string& folder,
                                             std::size_t limit) {
  std::vector<std::string> missing;
  for (const auto& image : annotations.images) {
    if (missing.size() >= limit) break;
    const auto file = std::filesystem::path(folder) / image.file_name;
    if (!std::filesystem::is_regular_file(file)) missing.push_back(file.string());
  }
  return missing;
}

}  // namespace ft_plugins
