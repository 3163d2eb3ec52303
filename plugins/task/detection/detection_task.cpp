// The `detection` task: boxes and their classes, learnt by an FCOS head (fcos_head.cpp) on a backbone's feature
// pyramid, scored by COCO's mAP.
//
// It reads `boxes` float [N, K, 4] (x1, y1, x2, y2 in the batch's pixels), `box_labels` int64 [N, K], `box_crowd`
// (crowd regions: never learnt from, neither right nor wrong in the mAP), `box_areas` (COCO's size ranges) and
// `image_ids` (which image each example is, for the mAP), as the `coco` dataset gives them; `boxes` is ragged, so a
// batch holds it padded with zero rows (ftsdk/tensors.h). A zero box matches no anchor point, exactly as an absent
// one, so the loss needs no host read of the counts. Optional, as torchvision's transform keeps them:
// `image_sizes` (detections are clipped to each image's own pixels, not the padded batch) and `image_scales`
// (detections and objects are mapped back to the file's pixels before the mAP, whose size ranges are in them).
//
// Loss: FCOS's three (sigmoid focal classification, GIoU box regression, centerness), summed; each is also recorded
// (`classification_loss`, `box_loss`, `centerness_loss`). Metrics: COCO's ap (primary), ap50, ap75, ap_small,
// ap_medium, ap_large and ar100 from every detection of the evaluated split (COCOeval, coco_evaluation.h), NaN
// where COCO has none (no object of that size; training, which keeps no detections).
//
// Parameters (torchvision's FCOS defaults):
//   score_threshold          detections scoring below are dropped (0.2)
//   nms_threshold            IoU above which a lower-scoring box of the same class is suppressed (0.6)
//   detections_per_image     the best kept per image (100, COCO's largest max-detections)
//   candidates_per_level     scores kept per pyramid level before NMS (1000)
//   center_sampling_radius   anchor points within this many strides of an object's centre learn it (1.5)
#include "coco_evaluation.h"
#include "detection_components.h"
#include "fcos.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace ft_plugins {
namespace {

using namespace ft::tensor_names;

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
// The COCO numbers recorded, in CocoMetrics::as_array's positions.
constexpr std::array<std::size_t, 7> kCocoPositions = {0, 1, 2, 3, 4, 5, 8};
constexpr std::array<const char*, 3> kLossNames = {"classification_loss", "box_loss", "centerness_loss"};

struct Settings {
  fcos::DetectionSettings detection;
  double center_sampling_radius = 1.5;
};

class DetectionTask final : public ft::Task {
 public:
  DetectionTask(std::int64_t classes, Settings settings) : classes_(classes), settings_(settings) {}

  std::vector<ft::MetricSpec> metrics() const override {
    std::vector<ft::MetricSpec> out;
    for (const auto position : kCocoPositions) out.push_back({CocoMetrics::names()[position], true});
    for (const auto* name : kLossNames) out.push_back({name, false});
    return out;
  }
  std::int64_t num_outputs() const override { return classes_; }
  ft::FeatureShape feature_shape() const override { return ft::FeatureShape::pyramid; }
  std::vector<std::string> reads() const override { return {kBoxes, kBoxLabels, "box_crowd", "box_areas", kImageIds}; }
  void prepare(ft::Batch&, at::Generator&) const override {}

  torch::Tensor loss(const torch::Tensor& outputs, const ft::Batch& batch) const override {
    return losses(outputs, batch).total();
  }

  // The loss parts are computed again here, without gradients: the loss is a few percent of a step's time
  // (bench/detection_speed.py), and a task keeps no state between loss() and metric_sums().
  torch::Tensor metric_sums(const torch::Tensor& outputs, const ft::Batch& batch) const override {
    torch::NoGradGuard no_grad;
    const auto parts = losses(outputs, batch);
    const auto n = static_cast<double>(outputs.size(0));
    const auto float64 = torch::TensorOptions().dtype(torch::kFloat64).device(outputs.device());
    return torch::cat(
        {torch::full({1}, n, float64), torch::zeros({static_cast<std::int64_t>(kCocoPositions.size())}, float64),
         torch::stack({parts.classification, parts.box_regression, parts.centerness}).to(torch::kFloat64) * n});
  }

  // Training keeps no detections: its COCO numbers are NaN (not recorded), its loss parts the epoch's means.
  std::vector<double> metric_values(const std::vector<double>& sums, double) const override {
    std::vector<double> values(kCocoPositions.size(), kNan);
    for (std::size_t i = 0; i < kLossNames.size(); ++i) {
      const std::size_t at = 1 + kCocoPositions.size() + i;
      values.push_back(sums.size() > at && sums[0] > 0 ? sums[at] / sums[0] : kNan);
    }
    return values;
  }

  // Three tables: detections (image id, label, score, x1, y1, x2, y2), objects (image id, label, crowd, area, x1,
  // y1, x2, y2) and the batch's image ids, whose rows the split's mAP reads.
  std::vector<torch::Tensor> evaluation_tables(const torch::Tensor& outputs, const ft::Batch& batch) const override {
    const auto packed = fcos::unpack(outputs, classes_);
    auto head = packed.outputs;
    head.anchors_per_level = fcos::anchors_per_level(packed.anchors);
    const auto& images = batch.at(kImages);
    const std::int64_t n = images.size(0);
    const auto found = fcos::detect(head, packed.anchors, image_sizes(batch), settings_.detection);
    // (x, y, x, y) per image: boxes divided by it are in the file's pixels.
    const auto scales = batch.contains(kImageScales)
                            ? batch.at(kImageScales).cpu().to(torch::kFloat64).view({n, 2}).repeat({1, 2})
                            : torch::ones({n, 4}, torch::kFloat64);
    const auto ids = batch.at(kImageIds).cpu().to(torch::kFloat64);
    const auto counts = object_counts(batch).cpu();
    const auto boxes = batch.at(kBoxes).cpu().to(torch::kFloat64) / scales.unsqueeze(1);
    const auto labels = batch.at(kBoxLabels).cpu().to(torch::kFloat64);
    const auto crowd = batch.at("box_crowd").cpu().to(torch::kFloat64);
    const auto areas = batch.at("box_areas").cpu().to(torch::kFloat64);
    std::vector<torch::Tensor> detections, objects;
    for (std::int64_t i = 0; i < n; ++i) {
      const auto& d = found[static_cast<std::size_t>(i)];
      const auto rows = d.scores.size(0);
      detections.push_back(
          torch::cat({ids[i].expand({rows, 1}), d.labels.cpu().to(torch::kFloat64).unsqueeze(1),
                      d.scores.cpu().to(torch::kFloat64).unsqueeze(1), d.boxes.cpu().to(torch::kFloat64) / scales[i]},
                     1));
      const auto k = counts[i].item<std::int64_t>();
      objects.push_back(torch::cat(
          {ids[i].expand({k, 1}), labels[i].slice(0, 0, k).unsqueeze(1), crowd[i].slice(0, 0, k).unsqueeze(1),
           areas[i].slice(0, 0, k).unsqueeze(1), boxes[i].slice(0, 0, k)},
          1));
    }
    return {torch::cat(detections), torch::cat(objects), ids.unsqueeze(1)};
  }

  std::vector<double> split_metric_values(const std::vector<double>& sums, double mean_loss,
                                          const std::vector<torch::Tensor>& tables) const override {
    auto values = metric_values(sums, mean_loss);
    if (tables.size() != 3) return values;
    const auto coco = evaluate(tables[0].contiguous(), tables[1].contiguous(), tables[2].contiguous()).as_array();
    for (std::size_t i = 0; i < kCocoPositions.size(); ++i) {
      const double value = coco[kCocoPositions[i]];
      values[i] = value < 0 ? kNan : value;  // COCO's -1: no object of that size in the split
    }
    return values;
  }

 private:
  // Each image's own height and width: `image_sizes`, or the whole (padded) batch's.
  static std::vector<std::pair<std::int64_t, std::int64_t>> image_sizes(const ft::Batch& batch) {
    const auto& images = batch.at(kImages);
    std::vector<std::pair<std::int64_t, std::int64_t>> sizes(static_cast<std::size_t>(images.size(0)),
                                                             {images.size(2), images.size(3)});
    if (batch.contains(kImageSizes)) {
      const auto own = batch.at(kImageSizes).to(torch::kCPU, torch::kInt64).contiguous().view({images.size(0), 2});
      const auto* values = own.data_ptr<std::int64_t>();
      for (std::size_t i = 0; i < sizes.size(); ++i) sizes[i] = {values[2 * i], values[2 * i + 1]};
    }
    return sizes;
  }

  // How many of each example's box rows are real: `boxes_count`, or all of them when the batch's examples agree.
  torch::Tensor object_counts(const ft::Batch& batch) const {
    const std::string count_name = std::string(kBoxes) + kCountSuffix;
    if (batch.contains(count_name)) return batch.at(count_name);
    const auto& boxes = batch.at(kBoxes);
    return torch::full({boxes.size(0)}, boxes.size(1), torch::kInt64);
  }

  fcos::Losses losses(const torch::Tensor& outputs, const ft::Batch& batch) const {
    const auto packed = fcos::unpack(outputs, classes_);
    const auto& boxes = batch.at(kBoxes);
    // Crowd regions are zeroed: a zero box matches nothing, so they teach nothing (torchvision's detection
    // references drop them from the targets alike; COCO's evaluation ignores detections on them).
    const auto kept = boxes * (1 - batch.at("box_crowd").to(boxes.dtype())).unsqueeze(2);
    std::vector<fcos::Targets> targets;
    for (std::int64_t i = 0; i < boxes.size(0); ++i) targets.push_back({kept[i], batch.at(kBoxLabels)[i]});
    return fcos::losses(packed.outputs, packed.anchors, targets, settings_.center_sampling_radius);
  }

  CocoMetrics evaluate(const torch::Tensor& detections, const torch::Tensor& objects, const torch::Tensor& ids) const {
    const auto coco_box = [](const double* row) { return CocoBox{row[0], row[1], row[2] - row[0], row[3] - row[1]}; };
    std::vector<std::int64_t> image_ids, category_ids;
    for (std::int64_t i = 0; i < ids.size(0); ++i)
      image_ids.push_back(static_cast<std::int64_t>(ids.data_ptr<double>()[i]));
    for (std::int64_t c = 0; c < classes_; ++c) category_ids.push_back(c);
    std::vector<GroundTruthBox> truth;
    const double* o = objects.data_ptr<double>();
    for (std::int64_t r = 0; r < objects.size(0); ++r, o += 8) {
      truth.push_back(
          {r + 1, static_cast<std::int64_t>(o[0]), static_cast<std::int64_t>(o[1]), coco_box(o + 4), o[3], o[2] > 0});
    }
    std::vector<Detection> found;
    const double* d = detections.data_ptr<double>();
    for (std::int64_t r = 0; r < detections.size(0); ++r, d += 7) {
      found.push_back({static_cast<std::int64_t>(d[0]), static_cast<std::int64_t>(d[1]), coco_box(d + 3), d[2]});
    }
    return evaluate_boxes(image_ids, category_ids, truth, found);
  }

  std::int64_t classes_;
  Settings settings_;
};

}  // namespace

std::shared_ptr<ft::Task> make_detection_task(const ft::Params& params, const ft::TaskContext& context) {
  Settings settings;
  auto& detection = settings.detection;
  detection.score_threshold = params.get_finite("score_threshold", 0.2);
  detection.nms_threshold = params.get_finite("nms_threshold", 0.6);
  detection.detections_per_image = params.get<std::int64_t>("detections_per_image", 100);
  detection.candidates_per_level = params.get<std::int64_t>("candidates_per_level", 1000);
  settings.center_sampling_radius = params.get_finite("center_sampling_radius", 1.5);
  if (detection.score_threshold < 0 || detection.score_threshold >= 1)
    params.fail("score_threshold", "must be in [0, 1)");
  if (detection.nms_threshold <= 0 || detection.nms_threshold > 1) params.fail("nms_threshold", "must be in (0, 1]");
  if (detection.detections_per_image < 1) params.fail("detections_per_image", "must be at least 1");
  if (detection.candidates_per_level < 1) params.fail("candidates_per_level", "must be at least 1");
  if (settings.center_sampling_radius <= 0) params.fail("center_sampling_radius", "must be positive");
  if (context.dataset.num_classes < 1) {
    throw ft::DataError("task 'detection': the dataset names no object classes (categories)");
  }
  return std::make_shared<DetectionTask>(context.dataset.num_classes, settings);
}

}  // namespace ft_plugins

namespace {

void register_components(ft::Registry& registry) {
  registry.add_task("detection", ft_plugins::make_detection_task);
  registry.add_head("fcos", ft_plugins::make_fcos_head);
}

}  // namespace

FT_PLUGIN("detection", "1.0.0", register_components)
