#pragma once
/// @file
/// Named tensors: what a dataset's example, a batch, a backbone's inputs and a task's targets are made of.
/// Datasets, backbones, tasks and regularizations agree by name, not by a fixed struct, so a text dataset's
/// `input_ids` and `attention_mask` reach a text backbone through the same core as an image dataset's `images`.

#include <ftsdk/error.h>

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ft {

/// The names ftrun's own plugins use. Any other name is fine between plugins that agree on it.
namespace tensor_names {
/// Images: `uint8 [C, H, W]` per example from a dataset; normalised `float [N, C, H, W]` in a batch. Examples
/// whose images differ in height or width (a detection set's own sizes) are padded with zeros below and right
/// to the batch's largest, each side rounded up to a multiple of 32 as torchvision's detectors do (the stride of
/// a ResNet's last stage); `image_sizes` then says where each image's own pixels end.
inline constexpr const char* kImages = "images";
/// The height and width of an example's own pixels at the top left of `images`, `int64 [2]` per example
/// (`int64 [N, 2]` in a batch): what lies beyond is padding, a letterbox's or the batch's. Detection clips its
/// boxes to it. Optional: without it the whole of `images` is the image.
inline constexpr const char* kImageSizes = "image_sizes";
/// How the dataset scaled an example's image from its file, `float [2]` per example (x, y): boxes are in the
/// scaled image's pixels, and detection divides them by these factors before COCO's mAP, whose size ranges are
/// in the file's pixels (torchvision's detectors map their boxes back alike). Optional: 1 without it.
inline constexpr const char* kImageScales = "image_scales";
/// Class indices: an `int64` scalar per example, `int64 [N]` in a batch.
inline constexpr const char* kLabels = "labels";
/// Token ids: `int64 [T]` per example (padded to the dataset's `max_length`), `int64 [N, T]` in a batch.
inline constexpr const char* kInputIds = "input_ids";
/// 1 for real tokens, 0 for padding, shaped like `input_ids`.
inline constexpr const char* kAttentionMask = "attention_mask";
/// What the loss compares the model's outputs with, set by the task (Task::prepare): class indices, class
/// probabilities once mixup mixed them, or token ids with -100 where no prediction is scored.
inline constexpr const char* kTargets = "targets";
/// Objects' boxes, `float [K, 4]` per example ([x1, y1, x2, y2] in pixels), K from 0: a ragged tensor (below).
inline constexpr const char* kBoxes = "boxes";
/// The objects' classes, `int64 [K]` per example.
inline constexpr const char* kBoxLabels = "box_labels";
/// Which image an example is, `int64` scalar per example: unique within a split (a COCO image id), so that a
/// metric over the whole split (COCO's mAP) tells images apart whichever batch or process held them.
inline constexpr const char* kImageIds = "image_ids";
/// Appended to a name whose examples differ in their first dimension (a ragged tensor: an image's boxes): the
/// batch holds them padded with zeros to the longest, `[N, K_max, ...]`, and `<name>_count`, `int64 [N]`, says
/// how many rows of each example are real. A batch whose examples happen to have the same number of rows is
/// stacked as it is, without `<name>_count`: read its absence as "every row is real". A split held in memory hands
/// over the same tensors.
inline constexpr const char* kCountSuffix = "_count";
}  // namespace tensor_names

/// A set of tensors by name: one example (no batch dimension) or a batch (every tensor's first dimension is
/// the batch).
class NamedTensors {
 public:
  NamedTensors() = default;
  NamedTensors(std::initializer_list<std::pair<const std::string, torch::Tensor>> tensors) : tensors_(tensors) {}

  /// The tensor `name`, created undefined when missing (for writing).
  torch::Tensor& operator[](const std::string& name) { return tensors_[name]; }
  /// The tensor `name`; throws DataError naming the tensors there are when it is missing.
  const torch::Tensor& at(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end() || !it->second.defined()) {
      std::string have;
      for (const auto& entry : tensors_) have += (have.empty() ? "" : ", ") + entry.first;
      throw DataError("no tensor named '" + name + "' (there are: " + (have.empty() ? "none" : have) + ")");
    }
    return it->second;
  }
  torch::Tensor& at(const std::string& name) {
    return const_cast<torch::Tensor&>(static_cast<const NamedTensors&>(*this).at(name));
  }
  bool contains(const std::string& name) const {
    auto it = tensors_.find(name);
    return it != tensors_.end() && it->second.defined();
  }
  void erase(const std::string& name) { tensors_.erase(name); }
  /// The names, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& entry : tensors_) out.push_back(entry.first);
    return out;
  }
  /// Number of examples: the first dimension of the first tensor (0 when empty).
  std::int64_t batch_size() const {
    for (const auto& entry : tensors_) {
      if (entry.second.defined() && entry.second.dim() > 0) return entry.second.size(0);
    }
    return 0;
  }

  auto begin() { return tensors_.begin(); }
  auto end() { return tensors_.end(); }
  auto begin() const { return tensors_.begin(); }
  auto end() const { return tensors_.end(); }
  bool empty() const { return tensors_.empty(); }

 private:
  std::map<std::string, torch::Tensor> tensors_;
};

/// A batch on the training device.
using Batch = NamedTensors;
/// One example, as a dataset's split returns it.
using Example = NamedTensors;

}  // namespace ft
