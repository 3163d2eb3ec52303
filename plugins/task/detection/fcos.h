#pragma once
// FCOS (Tian et al., 2019: anchor-free, one stage) as torchvision builds it (torchvision/models/detection/fcos.py):
// the feature pyramid over a backbone's last three stages with P6 and P7, the classification head and the box
// regression head with centerness, the anchor points, the training targets and the three losses, and the
// post-processing (score threshold, top-k per level, class-wise non-maximum suppression). Modules carry
// torchvision's names (`inner_blocks.0.0.weight`, `classification_head.cls_logits.bias`, ...), so its COCO weights
// load unchanged; tests/test_fcos_parity.cpp checks every part against torchvision on the same weights and inputs.
//
// Boxes are [x1, y1, x2, y2] in pixels of the padded batch, as in torchvision.

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/types.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace ft_plugins::fcos {

/// torchvision's FeaturePyramidNetwork with LastLevelP6P7 on P5: C3, C4, C5 in, P3 to P7 out, all `out_channels`
/// wide.
class FeaturePyramid : public torch::nn::Module {
 public:
  FeaturePyramid(const std::vector<std::int64_t>& in_channels, std::int64_t out_channels);
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& features);

 private:
  torch::nn::ModuleList inner_blocks_, layer_blocks_;
  std::shared_ptr<torch::nn::Module> extra_blocks_;
  torch::nn::Conv2d p6_{nullptr}, p7_{nullptr};
};

/// What the heads predict for every anchor point of every level, levels concatenated in order.
struct HeadOutputs {
  torch::Tensor class_logits;    // [N, A, classes]
  torch::Tensor box_regression;  // [N, A, 4]: distances to the box's sides, in anchor sizes, after ReLU
  torch::Tensor centerness;      // [N, A, 1], logits
  std::vector<std::int64_t> anchors_per_level;
};

/// torchvision's FCOSHead: `classification_head` (four 3x3 convolutions with GroupNorm(32) and ReLU, then
/// `cls_logits`) and `regression_head` (the same tower, then `bbox_reg` and `bbox_ctrness`), shared by all levels.
class Head : public torch::nn::Module {
 public:
  Head(std::int64_t in_channels, std::int64_t classes, std::int64_t convolutions = 4, double prior_probability = 0.01);
  HeadOutputs forward(const std::vector<torch::Tensor>& pyramid);

 private:
  std::int64_t classes_;
  torch::nn::Sequential class_tower_, box_tower_;
  torch::nn::Conv2d class_logits_{nullptr}, box_regression_{nullptr}, centerness_{nullptr};
};

/// torchvision's AnchorGenerator as FCOS sets it: one square anchor of side `sizes[level]` per location of each
/// level, centred on the location's corner (k * stride), the stride being the padded batch's size over the level's
/// (integer division, per axis). [A, 4], levels in order, locations row by row.
torch::Tensor anchors(const std::vector<torch::Tensor>& pyramid, std::int64_t batch_height, std::int64_t batch_width,
                      const std::vector<double>& sizes = {8, 16, 32, 64, 128});

/// FCOS's box coding (torchvision's BoxLinearCoder, normalised by the anchor's size).
torch::Tensor decode_boxes(const torch::Tensor& regression, const torch::Tensor& anchors);
torch::Tensor encode_boxes(const torch::Tensor& anchors, const torch::Tensor& boxes);

/// One image's objects.
struct Targets {
  torch::Tensor boxes;   // [K, 4] float, K may be 0
  torch::Tensor labels;  // [K] int64, in [0, classes)
};

/// The three losses torchvision's FCOS returns in train mode, each a sum over the batch's anchors divided by its
/// number of foreground anchors (at least 1).
struct Losses {
  torch::Tensor classification, box_regression, centerness;
  torch::Tensor total() const { return classification + box_regression + centerness; }
};

/// For each anchor of one image, the index of the object it is responsible for, or -1: inside the object's box,
/// within `center_sampling_radius` anchor sizes of its centre, at the level for its size, the smallest such object.
/// A box of zero size matches no anchor, so zero rows padding a batch's boxes change nothing.
torch::Tensor match_anchors(const torch::Tensor& anchors, const torch::Tensor& boxes,
                            double center_sampling_radius = 1.5);

/// The training losses for `outputs` (sigmoid focal loss, GIoU loss, centerness cross-entropy). Computed without
/// reading values back to the host.
Losses losses(const HeadOutputs& outputs, const torch::Tensor& anchors, const std::vector<Targets>& targets,
              double center_sampling_radius = 1.5);

struct DetectionSettings {
  double score_threshold = 0.2, nms_threshold = 0.6;
  std::int64_t detections_per_image = 100, candidates_per_level = 1000;
};

/// One image's detections, best first.
struct Detections {
  torch::Tensor boxes, scores, labels;
};

/// torchvision's FCOS.postprocess_detections: per level, the class scores sqrt(sigmoid(class) *
/// sigmoid(centerness)) above the threshold, the best `candidates_per_level` of them decoded and clipped to the
/// image (`image_sizes`: height and width before padding), then class-wise NMS over the levels and the best
/// `detections_per_image`.
std::vector<Detections> detect(const HeadOutputs& outputs, const torch::Tensor& anchors,
                               const std::vector<std::pair<std::int64_t, std::int64_t>>& image_sizes,
                               const DetectionSettings& settings = {});

/// The FCOS head's outputs and anchors as one float32 tensor `[N, A, classes + 9]`, one row per anchor point:
/// the class logits, the 4 box-regression values, the centerness logit, and the anchor's box. This is what the
/// `fcos` head returns and the `detection` task reads (Head::forward_pyramid returns one tensor).
torch::Tensor pack(const HeadOutputs& outputs, const torch::Tensor& anchors);

struct Packed {
  HeadOutputs outputs;    // anchors_per_level left empty: anchors_per_level() below reads it back when needed
  torch::Tensor anchors;  // [A, 4]
};
/// The inverse of pack (views, no copy).
Packed unpack(const torch::Tensor& packed, std::int64_t classes);
/// Each level's number of anchors, from the anchors' sizes (one per level, growing): a read back to the host.
std::vector<std::int64_t> anchors_per_level(const torch::Tensor& anchors);

/// torchvision.ops.nms and batched_nms: indices of the kept boxes, by decreasing score.
torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold);
torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& labels,
                          double iou_threshold);

}  // namespace ft_plugins::fcos
