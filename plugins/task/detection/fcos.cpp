#include "fcos.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

namespace ft_plugins::fcos {
namespace nn = torch::nn;
namespace {

nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2));
}

// torchvision's initialisation of the pyramid's convolutions: kaiming_uniform_(a=1), bias 0.
void init_pyramid_conv(const nn::Conv2d& layer) {
  nn::init::kaiming_uniform_(layer->weight, 1.0);
  nn::init::zeros_(layer->bias);
}

// Four 3x3 convolutions, each with GroupNorm(32) and ReLU: `conv.0`, `conv.1`, ..., `conv.11` as in torchvision.
nn::Sequential tower(std::int64_t channels, std::int64_t convolutions) {
  nn::Sequential layers;
  for (std::int64_t i = 0; i < convolutions; ++i) {
    auto layer = conv(channels, channels, 3);
    nn::init::normal_(layer->weight, 0.0, 0.01);
    nn::init::zeros_(layer->bias);
    layers->push_back(layer);
    layers->push_back(nn::GroupNorm(nn::GroupNormOptions(32, channels)));
    layers->push_back(nn::ReLU());
  }
  return layers;
}

// [N, K * A, H, W] → [N, H * W * A, K], as torchvision permutes each level's output.
torch::Tensor per_anchor(const torch::Tensor& map, std::int64_t values) {
  const auto n = map.size(0), h = map.size(2), w = map.size(3);
  return map.view({n, -1, values, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, values});
}

// torchvision.ops.generalized_box_iou_loss (reduction none, eps 1e-7).
torch::Tensor giou_loss(const torch::Tensor& boxes, const torch::Tensor& targets) {
  constexpr double eps = 1e-7;
  const auto b = boxes.unbind(-1), g = targets.unbind(-1);
  const auto x1 = torch::max(b[0], g[0]), y1 = torch::max(b[1], g[1]);
  const auto x2 = torch::min(b[2], g[2]), y2 = torch::min(b[3], g[3]);
  const auto intersection = torch::where((y2 > y1) & (x2 > x1), (x2 - x1) * (y2 - y1), torch::zeros_like(x1));
  const auto union_area = (b[2] - b[0]) * (b[3] - b[1]) + (g[2] - g[0]) * (g[3] - g[1]) - intersection;
  const auto iou = intersection / (union_area + eps);
  const auto enclosing =
      (torch::max(b[2], g[2]) - torch::min(b[0], g[0])) * (torch::max(b[3], g[3]) - torch::min(b[1], g[1]));
  return 1 - (iou - (enclosing - union_area) / (enclosing + eps));
}

// torchvision.ops.sigmoid_focal_loss (alpha 0.25, gamma 2, reduction none).
torch::Tensor sigmoid_focal_loss(const torch::Tensor& logits, const torch::Tensor& targets) {
  const auto p = torch::sigmoid(logits);
  const auto cross_entropy = torch::binary_cross_entropy_with_logits(logits, targets, {}, {}, at::Reduction::None);
  const auto p_t = p * targets + (1 - p) * (1 - targets);
  const auto loss = cross_entropy * (1 - p_t).pow(2);
  return (0.25 * targets + 0.75 * (1 - targets)) * loss;
}

}  // namespace

FeaturePyramid::FeaturePyramid(const std::vector<std::int64_t>& in_channels, std::int64_t out_channels) {
  for (const std::int64_t in : in_channels) {
    auto inner = conv(in, out_channels, 1), layer = conv(out_channels, out_channels, 3);
    init_pyramid_conv(inner);
    init_pyramid_conv(layer);
    inner_blocks_->push_back(nn::Sequential(inner));
    layer_blocks_->push_back(nn::Sequential(layer));
  }
  register_module("inner_blocks", inner_blocks_);
  register_module("layer_blocks", layer_blocks_);
  extra_blocks_ = register_module("extra_blocks", std::make_shared<nn::Module>());
  p6_ = extra_blocks_->register_module("p6", conv(out_channels, out_channels, 3, 2));
  p7_ = extra_blocks_->register_module("p7", conv(out_channels, out_channels, 3, 2));
  init_pyramid_conv(p6_);
  init_pyramid_conv(p7_);
}

std::vector<torch::Tensor> FeaturePyramid::forward(const std::vector<torch::Tensor>& features) {
  const std::size_t levels = features.size();
  std::vector<torch::Tensor> results(levels);
  auto last_inner = inner_blocks_[levels - 1]->as<nn::Sequential>()->forward(features[levels - 1]);
  results[levels - 1] = layer_blocks_[levels - 1]->as<nn::Sequential>()->forward(last_inner);
  for (std::size_t i = levels - 1; i-- > 0;) {
    const auto lateral = inner_blocks_[i]->as<nn::Sequential>()->forward(features[i]);
    const auto top_down =
        nn::functional::interpolate(last_inner, nn::functional::InterpolateFuncOptions()
                                                    .size(std::vector<std::int64_t>{lateral.size(2), lateral.size(3)})
                                                    .mode(torch::kNearest));
    last_inner = lateral + top_down;
    results[i] = layer_blocks_[i]->as<nn::Sequential>()->forward(last_inner);
  }
  // LastLevelP6P7 with in_channels == out_channels: from P5, as torchvision's FCOS and RetinaNet v2 do.
  const auto p6 = p6_->forward(results.back());
  results.push_back(p6);
  results.push_back(p7_->forward(torch::relu(p6)));
  return results;
}

Head::Head(std::int64_t in_channels, std::int64_t classes, std::int64_t convolutions, double prior_probability)
    : classes_(classes) {
  auto classification = register_module("classification_head", std::make_shared<nn::Module>());
  class_tower_ = classification->register_module("conv", tower(in_channels, convolutions));
  class_logits_ = classification->register_module("cls_logits", conv(in_channels, classes, 3));
  nn::init::normal_(class_logits_->weight, 0.0, 0.01);
  nn::init::constant_(class_logits_->bias, -std::log((1 - prior_probability) / prior_probability));

  auto regression = register_module("regression_head", std::make_shared<nn::Module>());
  box_tower_ = regression->register_module("conv", tower(in_channels, convolutions));
  box_regression_ = regression->register_module("bbox_reg", conv(in_channels, 4, 3));
  centerness_ = regression->register_module("bbox_ctrness", conv(in_channels, 1, 3));
  for (auto& layer : {box_regression_, centerness_}) {
    nn::init::normal_(layer->weight, 0.0, 0.01);
    nn::init::zeros_(layer->bias);
  }
}

HeadOutputs Head::forward(const std::vector<torch::Tensor>& pyramid) {
  std::vector<torch::Tensor> logits, regression, centerness;
  HeadOutputs outputs;
  for (const auto& level : pyramid) {
    logits.push_back(per_anchor(class_logits_->forward(class_tower_->forward(level)), classes_));
    const auto box_features = box_tower_->forward(level);
    regression.push_back(per_anchor(torch::relu(box_regression_->forward(box_features)), 4));
    centerness.push_back(per_anchor(centerness_->forward(box_features), 1));
    outputs.anchors_per_level.push_back(level.size(2) * level.size(3));
  }
  outputs.class_logits = torch::cat(logits, 1);
  outputs.box_regression = torch::cat(regression, 1);
  outputs.centerness = torch::cat(centerness, 1);
  return outputs;
}

torch::Tensor anchors(const std::vector<torch::Tensor>& pyramid, std::int64_t batch_height, std::int64_t batch_width,
                      const std::vector<double>& sizes) {
  std::vector<torch::Tensor> levels;
  for (std::size_t l = 0; l < pyramid.size(); ++l) {
    const auto height = pyramid[l].size(2), width = pyramid[l].size(3);
    const auto int32 = torch::TensorOptions().dtype(torch::kInt32).device(pyramid[l].device());
    const auto shifts_x = torch::arange(0, width, int32) * (batch_width / width);
    const auto shifts_y = torch::arange(0, height, int32) * (batch_height / height);
    const auto grid = torch::meshgrid({shifts_y, shifts_x}, "ij");
    const auto x = grid[1].reshape(-1), y = grid[0].reshape(-1);
    const auto shifts = torch::stack({x, y, x, y}, 1);
    // torchvision rounds the base anchor's corners half to even (torch.round), as nearbyint does.
    const double low = std::nearbyint(-sizes[l] / 2), high = std::nearbyint(sizes[l] / 2);
    const auto base = torch::tensor({low, low, high, high}, pyramid[l].options());
    levels.push_back(shifts.view({-1, 4}) + base.view({1, 4}));
  }
  return torch::cat(levels, 0);
}

namespace {

// What FCOS's box coding reads of its anchors: their centres, and their sizes as [w, h, w, h].
struct AnchorGeometry {
  explicit AnchorGeometry(const torch::Tensor& anchors)
      : center_x(0.5 * (anchors.select(-1, 0) + anchors.select(-1, 2))),
        center_y(0.5 * (anchors.select(-1, 1) + anchors.select(-1, 3))) {
    const auto width = anchors.select(-1, 2) - anchors.select(-1, 0);
    const auto height = anchors.select(-1, 3) - anchors.select(-1, 1);
    sizes = torch::stack({width, height, width, height}, -1);
  }
  torch::Tensor center_x, center_y, sizes;
};

}  // namespace

torch::Tensor decode_boxes(const torch::Tensor& regression, const torch::Tensor& anchors) {
  const AnchorGeometry anchor(anchors.to(regression.dtype()));
  const auto codes = regression * anchor.sizes;
  return torch::stack({anchor.center_x - codes.select(-1, 0), anchor.center_y - codes.select(-1, 1),
                       anchor.center_x + codes.select(-1, 2), anchor.center_y + codes.select(-1, 3)},
                      -1);
}

torch::Tensor encode_boxes(const torch::Tensor& anchors, const torch::Tensor& boxes) {
  const AnchorGeometry anchor(anchors);
  const auto distances = torch::stack({anchor.center_x - boxes.select(-1, 0), anchor.center_y - boxes.select(-1, 1),
                                       boxes.select(-1, 2) - anchor.center_x, boxes.select(-1, 3) - anchor.center_y},
                                      -1);
  return distances / anchor.sizes;
}

torch::Tensor match_anchors(const torch::Tensor& anchors, const torch::Tensor& boxes, double center_sampling_radius) {
  if (boxes.size(0) == 0) return torch::full({anchors.size(0)}, -1, anchors.options().dtype(torch::kInt64));
  const auto box_centers = (boxes.slice(1, 0, 2) + boxes.slice(1, 2, 4)) / 2;
  const auto anchor_centers = (anchors.slice(1, 0, 2) + anchors.slice(1, 2, 4)) / 2;
  const auto anchor_sizes = anchors.select(1, 2) - anchors.select(1, 0);
  // Near the object's centre (centre sampling) ...
  auto match = std::get<0>((anchor_centers.unsqueeze(1) - box_centers.unsqueeze(0)).abs().max(2)) <
               center_sampling_radius * anchor_sizes.unsqueeze(1);
  // ... inside its box ...
  const auto x = anchor_centers.select(1, 0).unsqueeze(1), y = anchor_centers.select(1, 1).unsqueeze(1);
  const auto b = boxes.unsqueeze(0).unbind(2);
  const auto distances = torch::stack({x - b[0], y - b[1], b[2] - x, b[3] - y}, 2);
  match = match & (std::get<0>(distances.min(2)) > 0);
  // ... and at the level for its size: the largest distance to a side in (4, 8] anchor sizes, open-ended at the
  // first and last level (each level's anchors have their own size, the first the smallest: found on the device,
  // where torchvision slices by the levels' anchor counts).
  const auto lower =
      torch::where(anchor_sizes == anchor_sizes.min(), torch::zeros_like(anchor_sizes), anchor_sizes * 4);
  const auto upper =
      torch::where(anchor_sizes == anchor_sizes.max(),
                   torch::full_like(anchor_sizes, std::numeric_limits<double>::infinity()), anchor_sizes * 8);
  const auto farthest = std::get<0>(distances.max(2));
  match = match & (farthest > lower.unsqueeze(1)) & (farthest < upper.unsqueeze(1));
  // The smallest object among those that match.
  const auto areas = (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
  const auto scored = match.to(torch::kFloat32) * (1e8 - areas.unsqueeze(0));
  auto [best, index] = scored.max(1);
  return torch::where(best < 1e-5, torch::full_like(index, -1), index);
}

Losses losses(const HeadOutputs& outputs, const torch::Tensor& anchors, const std::vector<Targets>& targets,
              double center_sampling_radius) {
  std::vector<torch::Tensor> classes, boxes;
  for (const auto& image : targets) {
    const auto matched = match_anchors(anchors, image.boxes, center_sampling_radius);
    if (image.boxes.size(0) == 0) {
      classes.push_back(torch::full_like(matched, -1));
      boxes.push_back(torch::zeros({anchors.size(0), 4}, anchors.options()));
      continue;
    }
    const auto index = matched.clamp_min(0);
    classes.push_back(torch::where(matched < 0, torch::full_like(matched, -1), image.labels.index_select(0, index)));
    boxes.push_back(image.boxes.index_select(0, index));
  }
  const auto target_classes = torch::stack(classes), target_boxes = torch::stack(boxes);  // [N, A], [N, A, 4]
  const auto all_anchors = anchors.unsqueeze(0).expand_as(target_boxes);
  const auto foreground = target_classes >= 0;
  const auto foreground_count = foreground.sum().clamp_min(1).to(outputs.class_logits.dtype());

  // Classification: one-hot targets on the foreground, focal loss over every anchor and class.
  const auto one_hot = torch::zeros_like(outputs.class_logits)
                           .scatter_(2, target_classes.clamp_min(0).unsqueeze(2), 1.0)
                           .mul_(foreground.unsqueeze(2).to(outputs.class_logits.dtype()));
  const auto classification = sigmoid_focal_loss(outputs.class_logits, one_hot).sum();

  // Boxes and centerness over the foreground only: masked, not indexed, so nothing is read back to the host.
  const auto zero = torch::zeros({}, outputs.box_regression.options());
  const auto predicted = decode_boxes(outputs.box_regression, all_anchors);
  const auto box_loss = torch::where(foreground, giou_loss(predicted, target_boxes), zero).sum();
  const auto sides = encode_boxes(all_anchors, target_boxes);
  const auto left_right = sides.index({"...", torch::tensor({0, 2})}),
             top_bottom = sides.index({"...", torch::tensor({1, 3})});
  const auto target_centerness = torch::sqrt((std::get<0>(left_right.min(-1)) / std::get<0>(left_right.max(-1))) *
                                             (std::get<0>(top_bottom.min(-1)) / std::get<0>(top_bottom.max(-1))));
  const auto predicted_centerness = outputs.centerness.squeeze(2);
  const auto centerness_terms = torch::binary_cross_entropy_with_logits(
      predicted_centerness, torch::where(foreground, target_centerness, zero), {}, {}, at::Reduction::None);
  const auto centerness = torch::where(foreground, centerness_terms, zero).sum();
  return {classification / foreground_count, box_loss / foreground_count, centerness / foreground_count};
}

namespace {

// One NMS's boxes in the order it visits them (best first), as columns: the inner loop of `suppress` then reads
// contiguous floats, which the compiler vectorizes (torchvision's kernel reads each box through an index, one at a
// time). Float, as torchvision computes in the boxes' own precision.
struct VisitOrder {
  std::vector<float> x1, y1, x2, y2, areas;
  std::vector<std::int64_t> index;  // each box's row in the boxes given

  void add(const torch::TensorAccessor<float, 2>& boxes, std::int64_t i) {
    x1.push_back(boxes[i][0]);
    y1.push_back(boxes[i][1]);
    x2.push_back(boxes[i][2]);
    y2.push_back(boxes[i][3]);
    areas.push_back((boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]));
    index.push_back(i);
  }
};

// The largest float not above `threshold`: for a float IoU, `iou > threshold` (compared in double, as torchvision
// compares its float IoU with its double threshold) is exactly `iou > float_at_or_below(threshold)`, a float
// comparison that vectorizes.
float float_at_or_below(double threshold) {
  const auto rounded = static_cast<float>(threshold);
  return static_cast<double>(rounded) > threshold ? std::nextafter(rounded, -std::numeric_limits<float>::infinity())
                                                  : rounded;
}

// torchvision's CPU NMS kernel over `boxes` in visit order: marks each box kept or not in `kept` (by its row). The
// same IoU, operation for operation, so the same boxes are kept; a suppressed box is compared again rather than
// skipped (marking it twice changes nothing, and the loop stays branch-free). Built twice, for AVX2 (8 boxes at a
// time) and for any x86-64 (4), the better one chosen when the library loads.
__attribute__((target_clones("avx2", "default"))) void suppress(const VisitOrder& boxes, double threshold,
                                                                std::vector<char>& kept) {
  const float above = float_at_or_below(threshold);
  const std::size_t n = boxes.index.size();
  const float *x1 = boxes.x1.data(), *y1 = boxes.y1.data(), *x2 = boxes.x2.data(), *y2 = boxes.y2.data(),
              *areas = boxes.areas.data();
  std::vector<unsigned char> suppressed(n, 0);
  unsigned char* out = suppressed.data();
  for (std::size_t a = 0; a < n; ++a) {
    if (out[a]) continue;
    kept[static_cast<std::size_t>(boxes.index[a])] = 1;
    const float ax1 = x1[a], ay1 = y1[a], ax2 = x2[a], ay2 = y2[a], area = areas[a];
    for (std::size_t c = a + 1; c < n; ++c) {
      const float width = std::max(0.0f, std::min(ax2, x2[c]) - std::max(ax1, x1[c]));
      const float height = std::max(0.0f, std::min(ay2, y2[c]) - std::max(ay1, y1[c]));
      const float intersection = width * height;
      out[c] |= static_cast<unsigned char>(intersection / (area + areas[c] - intersection) > above);
    }
  }
}

// Indices of `scores` best first, equal scores in index order (torchvision sorts stably).
std::vector<std::int64_t> best_first(const torch::Tensor& scores) {
  const auto order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true)).contiguous();
  return {order.data_ptr<std::int64_t>(), order.data_ptr<std::int64_t>() + order.numel()};
}

}  // namespace

torch::Tensor nms(const torch::Tensor& boxes_in, const torch::Tensor& scores_in, double iou_threshold) {
  if (boxes_in.size(0) == 0) return torch::empty({0}, boxes_in.options().dtype(torch::kInt64));
  const auto cpu_boxes = boxes_in.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto boxes = cpu_boxes.accessor<float, 2>();
  const auto order = best_first(scores_in.to(torch::kCPU, torch::kFloat32));
  VisitOrder visit;
  for (const auto i : order) visit.add(boxes, i);
  std::vector<char> kept(order.size(), 0);
  suppress(visit, iou_threshold, kept);
  std::vector<std::int64_t> keep;
  for (const auto i : order) {
    if (kept[i]) keep.push_back(i);
  }
  return torch::tensor(keep, torch::kInt64).to(boxes_in.device());
}

torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& labels,
                          double iou_threshold) {
  if (boxes.numel() == 0) return torch::empty({0}, boxes.options().dtype(torch::kInt64));
  // torchvision's choice: one NMS per class for many boxes, else one NMS with each class's boxes moved apart (whose
  // rounding differs, so it is kept as it is for the same results).
  if (boxes.numel() <= (boxes.is_cpu() ? 4000 : 20000)) {
    const auto offsets = labels.to(boxes.dtype()) * (boxes.max() + torch::tensor(1).to(boxes.options()));
    return nms(boxes + offsets.unsqueeze(1), scores, iou_threshold);
  }
  // One NMS per class, in one pass over the boxes best first: each class's boxes keep the order torchvision's
  // per-class call gives them, without a tensor per class.
  const auto cpu_boxes = boxes.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto box = cpu_boxes.accessor<float, 2>();
  const auto cpu_labels = labels.to(torch::kCPU, torch::kInt64).contiguous();
  const auto* label = cpu_labels.data_ptr<std::int64_t>();
  std::map<std::int64_t, VisitOrder> by_class;
  for (const auto i : best_first(scores.to(torch::kCPU, torch::kFloat32))) by_class[label[i]].add(box, i);
  std::vector<char> kept(static_cast<std::size_t>(boxes.size(0)), 0);
  for (const auto& entry : by_class) suppress(entry.second, iou_threshold, kept);
  const auto indices = torch::nonzero(torch::from_blob(kept.data(), {boxes.size(0)}, torch::kInt8)).squeeze(1);
  // As torchvision: the kept indices in index order, then sorted by score (not stably).
  return indices.index({std::get<1>(scores.cpu().index({indices}).sort(/*dim=*/0, /*descending=*/true))})
      .to(boxes.device());
}

std::vector<Detections> detect(const HeadOutputs& outputs, const torch::Tensor& anchors,
                               const std::vector<std::pair<std::int64_t, std::int64_t>>& image_sizes,
                               const DetectionSettings& settings) {
  const auto classes = outputs.class_logits.size(2);
  std::vector<Detections> detections;
  for (std::size_t image = 0; image < image_sizes.size(); ++image) {
    std::vector<torch::Tensor> boxes, scores, labels;
    std::int64_t start = 0;
    for (const std::int64_t count : outputs.anchors_per_level) {
      const auto i = static_cast<std::int64_t>(image);
      const auto logits = outputs.class_logits[i].slice(0, start, start + count);
      const auto regression = outputs.box_regression[i].slice(0, start, start + count);
      const auto centerness = outputs.centerness[i].slice(0, start, start + count);
      const auto level_anchors = anchors.slice(0, start, start + count);
      start += count;
      const auto all_scores = torch::sqrt(torch::sigmoid(logits) * torch::sigmoid(centerness)).flatten();
      auto candidates = (all_scores > settings.score_threshold).nonzero().squeeze(1);
      const auto level_scores = all_scores.index_select(0, candidates);
      const auto k = std::min<std::int64_t>(settings.candidates_per_level, candidates.size(0));
      auto [top_scores, top] = level_scores.topk(k);
      candidates = candidates.index({top});
      const auto anchor_index = torch::div(candidates, classes, "floor");
      auto level_boxes = decode_boxes(regression.index({anchor_index}), level_anchors.index({anchor_index}));
      // clip_boxes_to_image
      const auto [height, width] = image_sizes[image];
      level_boxes = torch::stack({level_boxes.select(1, 0).clamp(0, width), level_boxes.select(1, 1).clamp(0, height),
                                  level_boxes.select(1, 2).clamp(0, width), level_boxes.select(1, 3).clamp(0, height)},
                                 1);
      boxes.push_back(level_boxes);
      scores.push_back(top_scores);
      labels.push_back(candidates.remainder(classes));
    }
    const auto all_boxes = torch::cat(boxes), all_scores = torch::cat(scores), all_labels = torch::cat(labels);
    const auto kept = batched_nms(all_boxes, all_scores, all_labels, settings.nms_threshold)
                          .slice(0, 0, settings.detections_per_image);
    detections.push_back({all_boxes.index({kept}), all_scores.index({kept}), all_labels.index({kept})});
  }
  return detections;
}

torch::Tensor pack(const HeadOutputs& outputs, const torch::Tensor& anchors) {
  const auto n = outputs.class_logits.size(0);
  const auto float32 = [](const torch::Tensor& t) { return t.to(torch::kFloat32); };
  return torch::cat({float32(outputs.class_logits), float32(outputs.box_regression), float32(outputs.centerness),
                     float32(anchors).unsqueeze(0).expand({n, anchors.size(0), 4})},
                    2);
}

Packed unpack(const torch::Tensor& packed, std::int64_t classes) {
  Packed out;
  out.outputs.class_logits = packed.slice(2, 0, classes);
  out.outputs.box_regression = packed.slice(2, classes, classes + 4);
  out.outputs.centerness = packed.slice(2, classes + 4, classes + 5);
  out.anchors = packed[0].slice(1, classes + 5, classes + 9);
  return out;
}

std::vector<std::int64_t> anchors_per_level(const torch::Tensor& anchors) {
  const auto sizes = (anchors.select(1, 2) - anchors.select(1, 0)).cpu();
  const auto counts = std::get<2>(torch::unique_consecutive(sizes, /*return_inverse=*/false, /*return_counts=*/true));
  return std::vector<std::int64_t>(counts.data_ptr<std::int64_t>(), counts.data_ptr<std::int64_t>() + counts.numel());
}

}  // namespace ft_plugins::fcos
