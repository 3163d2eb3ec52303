#include "coco_evaluation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <utility>

namespace ft_plugins {
namespace {

constexpr std::size_t kThresholdCount = 10;  // IoU 0.50, 0.55, ..., 0.95
constexpr std::size_t kRecallPoints = 101;   // recall 0, 0.01, ..., 1
constexpr std::array<std::size_t, 3> kMaxDetections{1, 10, 100};
constexpr std::size_t kAll = 0, kSmall = 1, kMedium = 2, kLarge = 3;
struct AreaRange {
  double low, high;
};
// COCOeval's areaRng: all, small (< 32²), medium (32² to 96²), large; both ends inclusive, as it compares.
constexpr std::array<AreaRange, 4> kAreaRanges{{{0, 1e10}, {0, 32.0 * 32}, {32.0 * 32, 96.0 * 96}, {96.0 * 96, 1e10}}};

// numpy.linspace(start, stop, count) as COCOeval's Params build them: `start + i * step`, the last point exactly
// `stop`. Written out rather than as i / 100, because the thresholds are compared exactly (an IoU of 0.55 passes
// or not by the last bit).
template <std::size_t Count>
std::array<double, Count> linspace(double start, double stop) {
  std::array<double, Count> points{};
  const double step = (stop - start) / static_cast<double>(Count - 1);
  for (std::size_t i = 0; i < Count; ++i) points[i] = static_cast<double>(i) * step + start;
  points[Count - 1] = stop;
  return points;
}
const std::array<double, kThresholdCount> kIouThresholds = linspace<kThresholdCount>(0.5, 0.95);
const std::array<double, kRecallPoints> kRecallThresholds = linspace<kRecallPoints>(0.0, 1.0);

// What COCOeval's evaluateImg keeps for one image, category and area range: the detections (best first, at most
// 100), whether each matched an object at each IoU threshold, whether each is ignored there, and how many objects
// count.
struct ImageEvaluation {
  std::vector<double> scores;
  std::vector<char> matched, ignored;  // [threshold][detection], flattened
  std::int64_t counted_objects = 0;
};

// Indices of `items` (objects or detections) by (category, image), each list in the order given.
template <class Item>
std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::size_t>> by_category_and_image(
    const std::vector<Item>& items) {
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < items.size(); ++i) groups[{items[i].category_id, items[i].image_id}].push_back(i);
  return groups;
}

ImageEvaluation evaluate_image(const std::vector<const GroundTruthBox*>& objects,
                               const std::vector<const Detection*>& detections,
                               const std::vector<std::vector<double>>& ious, const AreaRange& range) {
  const auto outside = [&](double area) { return area < range.low || area > range.high; };
  // Objects not ignored first, each part in its order (COCOeval's stable argsort on _ignore).
  std::vector<std::size_t> order(objects.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<char> object_ignored(objects.size());
  for (std::size_t g = 0; g < objects.size(); ++g) {
    object_ignored[g] = objects[g]->crowd || outside(objects[g]->area);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return object_ignored[a] < object_ignored[b]; });

  const std::size_t count = detections.size();
  ImageEvaluation result;
  result.matched.assign(kThresholdCount * count, 0);
  result.ignored.assign(kThresholdCount * count, 0);
  for (const auto* detection : detections) result.scores.push_back(detection->score);
  for (std::size_t g = 0; g < objects.size(); ++g) result.counted_objects += object_ignored[g] ? 0 : 1;

  if (!objects.empty()) {
    for (std::size_t t = 0; t < kThresholdCount; ++t) {
      std::vector<char> object_taken(objects.size(), 0);  // in `order`'s positions
      for (std::size_t d = 0; d < count; ++d) {
        double best = std::min(kIouThresholds[t], 1 - 1e-10);
        std::optional<std::size_t> match;  // a position in `order`
        for (std::size_t position = 0; position < order.size(); ++position) {
          const std::size_t g = order[position];
          if (object_taken[position] && !objects[g]->crowd) continue;
          // Matched to a counted object already, and only ignored ones remain: stop.
          if (match && !object_ignored[order[*match]] && object_ignored[g]) break;
          if (ious[d][g] < best) continue;
          best = ious[d][g];
          match = position;
        }
        if (!match) continue;
        result.ignored[t * count + d] = object_ignored[order[*match]];
        result.matched[t * count + d] = 1;
        object_taken[*match] = 1;
      }
    }
  }
  // An unmatched detection of a size outside the range is not counted against it.
  for (std::size_t d = 0; d < count; ++d) {
    const double area = detections[d]->box.width * detections[d]->box.height;
    for (std::size_t t = 0; t < kThresholdCount; ++t) {
      if (!result.matched[t * count + d] && outside(area)) result.ignored[t * count + d] = 1;
    }
  }
  return result;
}

// Precision [threshold][recall point] and recall [threshold] of one category, area range and detection limit from
// its images' evaluations (COCOeval.accumulate); nothing when the category has no counted object there.
struct Curve {
  std::array<std::array<double, kRecallPoints>, kThresholdCount> precision{};
  std::array<double, kThresholdCount> recall{};
};
std::optional<Curve> accumulate(const std::vector<const ImageEvaluation*>& images, std::size_t max_detections) {
  std::int64_t counted = 0;
  std::vector<std::pair<const ImageEvaluation*, std::size_t>> detections;  // (image, index), image order
  for (const auto* image : images) {
    counted += image->counted_objects;
    for (std::size_t d = 0; d < std::min(max_detections, image->scores.size()); ++d) detections.emplace_back(image, d);
  }
  if (counted == 0) return std::nullopt;
  // Best first; equal scores keep image order (COCOeval's mergesort).
  std::stable_sort(detections.begin(), detections.end(),
                   [](const auto& a, const auto& b) { return a.first->scores[a.second] > b.first->scores[b.second]; });
  Curve curve;
  const std::size_t n = detections.size();
  std::vector<double> recall(n), precision(n);
  for (std::size_t t = 0; t < kThresholdCount; ++t) {
    double true_positives = 0, false_positives = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& [image, d] = detections[i];
      const std::size_t at = t * image->scores.size() + d;
      if (!image->ignored[at]) (image->matched[at] ? true_positives : false_positives) += 1;
      recall[i] = true_positives / static_cast<double>(counted);
      precision[i] = true_positives / (false_positives + true_positives + std::numeric_limits<double>::epsilon());
    }
    curve.recall[t] = n > 0 ? recall[n - 1] : 0.0;
    for (std::size_t i = n; i-- > 1;) precision[i - 1] = std::max(precision[i - 1], precision[i]);
    for (std::size_t r = 0; r < kRecallPoints; ++r) {
      const auto first = std::lower_bound(recall.begin(), recall.end(), kRecallThresholds[r]);
      curve.precision[t][r] = first == recall.end() ? 0.0 : precision[first - recall.begin()];
    }
  }
  return curve;
}

// The mean of the defined values, or -1 when none is (COCOeval's _summarize).
struct Mean {
  double sum = 0;
  std::int64_t count = 0;
  void add(double value) {
    if (value > -1) sum += value, ++count;
  }
  double value() const { return count > 0 ? sum / static_cast<double>(count) : -1.0; }
};

}  // namespace

const std::array<const char*, 12>& CocoMetrics::names() {
  static const std::array<const char*, 12> names{"ap",  "ap50", "ap75",  "ap_small", "ap_medium", "ap_large",
                                                 "ar1", "ar10", "ar100", "ar_small", "ar_medium", "ar_large"};
  return names;
}

double coco_box_iou(const CocoBox& detection, const CocoBox& object, bool crowd) {
  // pycocotools' bbIou, operation for operation.
  const double width =
      std::fmin(detection.width + detection.x, object.width + object.x) - std::fmax(detection.x, object.x);
  if (width <= 0) return 0;
  const double height =
      std::fmin(detection.height + detection.y, object.height + object.y) - std::fmax(detection.y, object.y);
  if (height <= 0) return 0;
  const double intersection = width * height;
  const double detection_area = detection.width * detection.height;
  const double union_area = crowd ? detection_area : detection_area + object.width * object.height - intersection;
  return intersection / union_area;
}

CocoMetrics evaluate_boxes(const std::vector<std::int64_t>& image_ids_given,
                           const std::vector<std::int64_t>& category_ids_given,
                           const std::vector<GroundTruthBox>& ground_truth, const std::vector<Detection>& detections) {
  auto sorted_unique = [](std::vector<std::int64_t> ids) {
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
  };
  const auto image_ids = sorted_unique(image_ids_given);
  const auto category_ids = sorted_unique(category_ids_given);
  const auto known_image = [&](std::int64_t id) { return std::binary_search(image_ids.begin(), image_ids.end(), id); };
  for (const auto& object : ground_truth) {
    if (!known_image(object.image_id)) {
      throw std::invalid_argument("object " + std::to_string(object.id) + " is on image " +
                                  std::to_string(object.image_id) + ", which is not in the evaluated set");
    }
  }
  for (const auto& detection : detections) {
    if (!known_image(detection.image_id)) {
      throw std::invalid_argument("a detection is on image " + std::to_string(detection.image_id) +
                                  ", which is not in the evaluated set");
    }
  }
  const auto objects_by_group = by_category_and_image(ground_truth);
  const auto detections_by_group = by_category_and_image(detections);

  // precision [threshold][recall point][category][area][limit] and recall [threshold][category][area][limit] as
  // COCOeval keeps them, only reduced at once into the means its summary takes.
  Mean ap, ap50, ap75, ap_by_area[4], ar_by_limit[3], ar_by_area[4];
  const std::vector<std::size_t> none;
  for (const std::int64_t category : category_ids) {
    // evaluate: per image, the category's objects and its best 100 detections with their IoUs.
    std::array<std::vector<ImageEvaluation>, 4> evaluations;  // [area], over images that have anything
    for (const std::int64_t image : image_ids) {
      const auto found_objects = objects_by_group.find({category, image});
      const auto found_detections = detections_by_group.find({category, image});
      const auto& object_indices = found_objects == objects_by_group.end() ? none : found_objects->second;
      const auto& detection_indices = found_detections == detections_by_group.end() ? none : found_detections->second;
      if (object_indices.empty() && detection_indices.empty()) continue;
      std::vector<const GroundTruthBox*> objects;
      for (const std::size_t i : object_indices) objects.push_back(&ground_truth[i]);
      std::vector<const Detection*> image_detections;
      for (const std::size_t i : detection_indices) image_detections.push_back(&detections[i]);
      std::stable_sort(image_detections.begin(), image_detections.end(),
                       [](const Detection* a, const Detection* b) { return a->score > b->score; });
      if (image_detections.size() > kMaxDetections.back()) image_detections.resize(kMaxDetections.back());
      std::vector<std::vector<double>> ious(image_detections.size(), std::vector<double>(objects.size()));
      for (std::size_t d = 0; d < image_detections.size(); ++d) {
        for (std::size_t g = 0; g < objects.size(); ++g) {
          ious[d][g] = coco_box_iou(image_detections[d]->box, objects[g]->box, objects[g]->crowd);
        }
      }
      for (std::size_t a = 0; a < kAreaRanges.size(); ++a) {
        evaluations[a].push_back(evaluate_image(objects, image_detections, ious, kAreaRanges[a]));
      }
    }
    // accumulate and summarize.
    for (std::size_t a = 0; a < kAreaRanges.size(); ++a) {
      std::vector<const ImageEvaluation*> images;
      for (const auto& evaluation : evaluations[a]) images.push_back(&evaluation);
      if (images.empty()) continue;
      for (std::size_t m = 0; m < kMaxDetections.size(); ++m) {
        const auto curve = accumulate(images, kMaxDetections[m]);
        if (!curve) continue;
        const bool hundred = m == kMaxDetections.size() - 1;
        for (std::size_t t = 0; t < kThresholdCount; ++t) {
          if (a == kAll) ar_by_limit[m].add(curve->recall[t]);
          if (hundred) ar_by_area[a].add(curve->recall[t]);
          for (const double value : curve->precision[t]) {
            if (!hundred) continue;
            if (a == kAll) ap.add(value);
            if (a == kAll && t == 0) ap50.add(value);
            if (a == kAll && t == 5) ap75.add(value);
            ap_by_area[a].add(value);
          }
        }
      }
    }
  }
  CocoMetrics metrics;
  metrics.ap = ap.value();
  metrics.ap50 = ap50.value();
  metrics.ap75 = ap75.value();
  metrics.ap_small = ap_by_area[kSmall].value();
  metrics.ap_medium = ap_by_area[kMedium].value();
  metrics.ap_large = ap_by_area[kLarge].value();
  metrics.ar1 = ar_by_limit[0].value();
  metrics.ar10 = ar_by_limit[1].value();
  metrics.ar100 = ar_by_limit[2].value();
  metrics.ar_small = ar_by_area[kSmall].value();
  metrics.ar_medium = ar_by_area[kMedium].value();
  metrics.ar_large = ar_by_area[kLarge].value();
  return metrics;
}

}  // namespace ft_plugins
