#pragma once
// Reader for COCO's object-detection annotation files (`instances_<split>.json`: images, annotations and
// categories; https://cocodataset.org/#format-data), checked the way a dataset must be before training: every
// malformed file is a DataError naming the file and the annotation (or image, or category) at fault. Also the
// subsets a fine-tune asks for: some categories only, and N images per category. Independent of LibTorch, so it
// is tested and fuzzed cheaply (tests/test_coco_annotations.cpp, tests/fuzz/fuzz_coco_annotations.cpp).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ft_plugins {

struct CocoImage {
  std::int64_t id = 0;
  /// Relative to the image folder.
  std::string file_name;
  std::int64_t width = 0, height = 0;
};

struct CocoCategory {
  std::int64_t id = 0;
  std::string name;
};

/// One annotation: an object's box or a crowd region.
struct CocoObject {
  std::int64_t id = 0, image_id = 0, category_id = 0;
  /// COCO's [x, y, width, height] in pixels, from the image's top-left corner.
  std::array<double, 4> bbox{};
  /// The annotation's area (its segmentation's, in COCO's own files); the box's when the file has none.
  double area = 0;
  bool crowd = false;
};

struct CocoAnnotations {
  /// In the file's order.
  std::vector<CocoImage> images;
  /// By id.
  std::vector<CocoCategory> categories;
  /// In the file's order.
  std::vector<CocoObject> objects;
};

/// Reads and checks `path`. Throws ft::DataError when the file is missing, not JSON (with line and column), or
/// malformed: a missing or mistyped field, a duplicate id, an annotation on an unknown image or category, a box
/// with a negative size or outside its image (by more than a pixel: COCO's boxes are rounded from polygons, and
/// its own files overshoot by fractions of a pixel).
CocoAnnotations read_coco_annotations(const std::string& path);
/// The same from the file's text; `path` only names it in messages.
CocoAnnotations parse_coco_annotations(std::string_view text, const std::string& path);

/// The annotations of the categories named `names` only (in the file's category order), and every image (an image
/// left without objects stays: it is a negative example). Throws ft::DataError naming the categories there are
/// when a name is not one of them.
CocoAnnotations keep_categories(const CocoAnnotations& annotations, const std::vector<std::string>& names,
                                const std::string& path);

/// A few-shot subset: images drawn in a seeded order, each kept while one of the categories it shows (not counting
/// crowd regions) has fewer than `shots` images, until every category has `shots` (or all it has). An image counts
/// for every category it shows, so a category can end with more than `shots` images, never fewer than it can have.
/// Images without objects are left out. The same seed gives the same subset on every machine.
CocoAnnotations few_shot(const CocoAnnotations& annotations, std::int64_t shots, std::uint64_t seed);

/// The image files of `annotations` missing from `folder`, up to `limit` of them.
std::vector<std::string> missing_image_files(const CocoAnnotations& annotations, const std::string& folder,
                                             std::size_t limit = 5);

}  // namespace ft_plugins
