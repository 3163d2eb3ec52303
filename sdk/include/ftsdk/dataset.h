#pragma once
/// @file
/// Dataset plugins: labelled examples (images, or token ids of texts) split into train, validation and test.

#include <ftsdk/backbone.h>
#include <ftsdk/logger.h>
#include <ftsdk/tensors.h>

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ft {

/// One labelled image as an example: `images` uint8 `[C, H, W]` in 0..255 (the core converts and normalises) and
/// `labels`, its class index.
inline Example image_example(torch::Tensor image, std::int64_t label) {
  return {{tensor_names::kImages, std::move(image)}, {tensor_names::kLabels, torch::tensor(label, torch::kLong)}};
}

/// One split of a dataset. Either yields examples by index, or, when it fits in memory, hands over all of it.
/// Examples are named tensors (ftsdk/tensors.h): `images` and `labels` for image classification, `input_ids`,
/// `attention_mask` and `labels` for texts. Every example of a split has the same names and shapes.
class Split {
 public:
  virtual ~Split() = default;
  /// Number of examples.
  virtual std::int64_t size() const = 0;
  /// Example `index` (0-based, `< size()`). Called from several loader threads at once: keep it thread-safe.
  virtual Example get(std::int64_t index) const = 0;
  /// The whole split as tensors with the examples' names, each with the split's size as first dimension, when it
  /// is held in memory; nothing otherwise.
  virtual std::optional<NamedTensors> tensors() const { return std::nullopt; }
  /// Example `index` for a training step, for splits that draw random augmentations while decoding (a random
  /// resized crop). `draw` seeds this example's draws: the core derives it from the run's seed, the epoch and the
  /// index, so a resumed run draws what the uninterrupted one drew. The default ignores it.
  virtual Example get_for_training(std::int64_t index, std::uint64_t draw) const {
    (void)draw;
    return get(index);
  }
  /// True when `get_for_training` depends on `draw`: the core then never caches what the backbone makes of these
  /// examples (the feature cache).
  virtual bool draws_random() const { return false; }
};

/// A split over tensors already in memory: the usual choice for datasets up to a few GB.
class TensorSplit final : public Split {
 public:
  /// Named tensors of the whole split, each `[N, ...]`: for images, `images` uint8 `[N, C, H, W]` and `labels`
  /// int64 `[N]`.
  explicit TensorSplit(NamedTensors tensors) : tensors_(std::move(tensors)), size_(tensors_.batch_size()) {}
  /// An image split: `images` uint8 `[N, C, H, W]`, `labels` int64 `[N]`.
  TensorSplit(torch::Tensor images, torch::Tensor labels)
      : TensorSplit(
            NamedTensors{{tensor_names::kImages, std::move(images)}, {tensor_names::kLabels, std::move(labels)}}) {}
  std::int64_t size() const override { return size_; }
  Example get(std::int64_t index) const override {
    Example example;
    for (const auto& [name, tensor] : tensors_) example[name] = tensor[index];
    return example;
  }
  std::optional<NamedTensors> tensors() const override { return tensors_; }

 private:
  NamedTensors tensors_;
  std::int64_t size_ = 0;
};

/// What the core needs to know about a dataset before training.
struct DatasetInfo {
  /// Number of classes; labels are `0 .. num_classes-1`.
  std::int64_t num_classes = 0;
  /// Shape of every image (all zero for texts).
  InputShape input;
  /// Per-channel mean of the pixels scaled to [0, 1], used to normalise.
  std::vector<double> mean;
  /// Per-channel standard deviation of the pixels scaled to [0, 1].
  std::vector<double> std;
  /// Optional class names, `num_classes` long when given.
  std::vector<std::string> class_names;
  /// The tensors every example has, e.g. {"images", "labels"}.
  std::vector<std::string> tensors = {tensor_names::kImages, tensor_names::kLabels};
  /// For texts: the vocabulary (empty otherwise).
  TextInfo text;
};

/// A labelled dataset.
class Dataset {
 public:
  virtual ~Dataset() = default;
  /// Classes, shape and normalisation.
  virtual DatasetInfo info() const = 0;
  /// The training split (required).
  virtual std::shared_ptr<const Split> train() const = 0;
  /// The validation split, evaluated every epoch; nullptr when there is none.
  virtual std::shared_ptr<const Split> validation() const = 0;
  /// The test split, evaluated once at the end; nullptr when there is none.
  virtual std::shared_ptr<const Split> test() const { return nullptr; }
};

/// What a dataset factory is given besides its parameters.
struct DatasetContext {
  /// The experiment's seed, for reproducible splits and subsets.
  std::uint64_t seed = 0;
  /// Where to write messages.
  Logger& log;
  /// A folder for what a dataset derives from its data and may reuse in later runs (a tokenizer trained on its
  /// text), kept beside the results store; name files by a hash of what they are made from. Empty: none (write to a
  /// temporary folder).
  std::string cache_dir;
};

}  // namespace ft
