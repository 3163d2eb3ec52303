#pragma once
// Box mAP exactly as COCO computes it: a port of pycocotools' COCOeval for iouType "bbox" (evaluate, accumulate,
// summarize) with its matching, crowd regions, area ranges, max-detection limits and 101-point interpolation, so
// that the numbers ftrun records are the numbers papers report. Independent of LibTorch, so it is tested against
// pycocotools directly (tests/test_coco_evaluation.cpp) and costs nothing to build.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ft_plugins {

/// A box as COCO writes it: top-left corner, width and height, in pixels.
struct CocoBox {
  double x = 0, y = 0, width = 0, height = 0;
};

/// An annotated object. `area` is the annotation's own (a segmentation's area in COCO's files; the box's for
/// box-only sets): COCOeval ranks objects into small/medium/large by it, not by the box.
struct GroundTruthBox {
  std::int64_t id = 0, image_id = 0, category_id = 0;
  CocoBox box;
  double area = 0;
  /// A crowd region: never counts as missed, and any number of detections on it are neither right nor wrong.
  bool crowd = false;
};

/// A detection, as in a COCO results file. Their order matters only between equal scores, as in COCOeval.
struct Detection {
  std::int64_t image_id = 0, category_id = 0;
  CocoBox box;
  double score = 0;
};

/// COCOeval's twelve summary numbers (`COCOeval.stats`), in its order. -1 where COCO has no value (no object of
/// that size in the split).
struct CocoMetrics {
  double ap = -1, ap50 = -1, ap75 = -1, ap_small = -1, ap_medium = -1, ap_large = -1;
  double ar1 = -1, ar10 = -1, ar100 = -1, ar_small = -1, ar_medium = -1, ar_large = -1;

  std::array<double, 12> as_array() const {
    return {ap, ap50, ap75, ap_small, ap_medium, ap_large, ar1, ar10, ar100, ar_small, ar_medium, ar_large};
  }
  /// The metric names ftrun records them under, in the same order: ap (primary), ap50, ..., ar100, ar_large.
  static const std::array<const char*, 12>& names();
};

/// Evaluates `detections` against `ground_truth` over the split's `image_ids` and `category_ids` (every image and
/// every category of the annotation file, whether or not it has objects: an image without objects still makes its
/// detections false positives). Detections of other categories are left out, as COCOeval leaves them; a detection
/// or an object on an image not in `image_ids` is an error (std::invalid_argument), as COCOeval refuses results
/// that do not belong to the set.
CocoMetrics evaluate_boxes(const std::vector<std::int64_t>& image_ids, const std::vector<std::int64_t>& category_ids,
                           const std::vector<GroundTruthBox>& ground_truth, const std::vector<Detection>& detections);

/// The box IoU COCO uses (pycocotools' bbIou): for a crowd region, the intersection over the detection's area.
double coco_box_iou(const CocoBox& detection, const CocoBox& object, bool crowd);

}  // namespace ft_plugins
