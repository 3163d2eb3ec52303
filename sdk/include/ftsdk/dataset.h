#pragma once
/// @file
/// Dataset plugins: labelled images split into train, validation and test.

#include <ftsdk/backbone.h>
#include <ftsdk/logger.h>

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ft {

/// One labelled image.
struct Example {
  /// `uint8` pixels `[C, H, W]` in 0..255 (the core converts and normalises).
  torch::Tensor image;
  /// Class index in `0 .. num_classes-1`.
  std::int64_t label = 0;
};

/// A whole split held in memory, which the core may keep on the device and batch with tensor indexing.
struct SplitTensors {
  /// `uint8` pixels `[N, C, H, W]`.
  torch::Tensor images;
  /// `int64` class indices `[N]`.
  torch::Tensor labels;
};

/// One split of a dataset. Either yields examples by index, or, when it fits in memory, hands over all of it.
class Split {
 public:
  virtual ~Split() = default;
  /// Number of examples.
  virtual std::int64_t size() const = 0;
  /// Example `index` (0-based, `< size()`). Called from several loader threads at once: keep it thread-safe.
  virtual Example get(std::int64_t index) const = 0;
  /// The whole split as tensors, when it is held in memory; nothing otherwise.
  virtual std::optional<SplitTensors> tensors() const { return std::nullopt; }
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
  /// `images`: uint8 `[N, C, H, W]`; `labels`: int64 `[N]`.
  TensorSplit(torch::Tensor images, torch::Tensor labels) : data_{std::move(images), std::move(labels)} {}
  std::int64_t size() const override { return data_.labels.size(0); }
  Example get(std::int64_t index) const override {
    return {data_.images[index], data_.labels[index].item<std::int64_t>()};
  }
  std::optional<SplitTensors> tensors() const override { return data_; }

 private:
  SplitTensors data_;
};

/// What the core needs to know about a dataset before training.
struct DatasetInfo {
  /// Number of classes; labels are `0 .. num_classes-1`.
  std::int64_t num_classes = 0;
  /// Shape of every image.
  InputShape input;
  /// Per-channel mean of the pixels scaled to [0, 1], used to normalise.
  std::vector<double> mean;
  /// Per-channel standard deviation of the pixels scaled to [0, 1].
  std::vector<double> std;
  /// Optional class names, `num_classes` long when given.
  std::vector<std::string> class_names;
};

/// A labelled image dataset.
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
};

}  // namespace ft
