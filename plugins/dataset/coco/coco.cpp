// coco: object-detection data in COCO's layout (https://cocodataset.org/#format-data), read and checked by
// coco_annotations.h; images decoded with libjpeg-turbo and libspng as image_folder does.
//
//   root              folder holding annotations/instances_<split>.json and one image folder per split,
//                     root/<split>/ (required)
//   train_split       "train" (COCO's own: "train2017")
//   validation_split  "val" ("val2017")
//   test_split        "" (no test split: COCO's test images have no public annotations); "test" for the
//                     Fashion-MNIST set of scripts/fashion_mnist_detection.py
//   categories        names of the categories to detect, all by default; labels are their order by category id
//   shots             N > 0: a few-shot training set, N images per category (coco_annotations.h, few_shot), drawn
//                     with the experiment's seed
//   image_size        0: keep each image's size; S: each image letterboxed into S x S (scaled so that its longer
//                     side is S, padded below and right)
//   min_size          0: off; S: each image resized as torchvision's detectors do (GeneralizedRCNNTransform): its
//                     shorter side to S unless its longer side would pass max_size, then that to max_size; not
//                     with image_size. COCO's recipes: 800 and 1333. A list [S1, ..., Sk]: multi-scale training,
//                     each training image drawn one of them, evaluation at the last (torchvision's tuple)
//   max_size          the longest side min_size may give (1333, torchvision's)
//   hflip             training images flipped left to right with probability 1/2, boxes with them (false)
//   scale_range       [low, high]: training images shrunk by a factor drawn in it inside their canvas ([1, 1]:
//                     never), so that the detector sees objects smaller than the set has them
//   channels          3 (RGB, the default) or 1 (grey: luminance, as Pillow's convert("L"))
//   mean, std         per-channel normalisation (ImageNet's by default; their averages for grey images)
//
// Each example: `images` uint8 [C, H, W] (images of several sizes: the core pads each batch to its largest,
// rounded up to a multiple of 32); `image_sizes` int64 [2] (the height and width of the image's own pixels at the
// top left: a letterbox or a training shrink leaves padding beyond) and `image_scales` float [2] (x, y: the scaling
// from the file); `boxes` float [K, 4] ([x1, y1, x2, y2] in the example's pixels), `box_labels` int64 [K],
// `box_crowd` uint8 [K] (crowd regions: training ignores them, COCO's evaluation counts detections on them as
// neither right nor wrong) and `box_areas` float [K] (the annotation's area, in the file's pixels as COCO's size
// ranges are: evaluation maps boxes back by `image_scales`), and `image_ids` int64 (COCO's image id, which tells
// the split's images apart in its mAP). K varies per example: the core collates these ragged tensors padded,
// with `<name>_count` (ftsdk/tensors.h).
#include <ftsdk/plugin.h>

#include "../common/stored_dataset.h"
#include "../image_folder/image_decode.h"
#include "coco_annotations.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <variant>
#include <vector>

namespace {

namespace fs = std::filesystem;

// One image's objects, in the example's pixels.
struct ImageObjects {
  std::int64_t id = 0;  // COCO's image id
  std::string path;
  std::int64_t width = 0, height = 0;
  fs::file_time_type modified;  // when the annotations were read: a file rewritten since no longer matches them
  std::vector<ft_plugins::CocoObject> objects;
};

// Box-aware augmentation of training images.
struct Augment {
  bool hflip = false;
  double scale_low = 1, scale_high = 1;
};

// The size every image is brought to before augmentation.
struct Sizing {
  std::int64_t letterbox = 0;  // image_size: S x S, the longer side S
  std::int64_t min_size = 0;   // torchvision's resize: the shorter side min_size (evaluation's, the list's last)...
  std::int64_t max_size = 0;   // ...the longer at most max_size
  std::vector<std::int64_t> training_min_sizes;  // min_size as a list: one drawn per training image

  // The height and width an image of `height` x `width` is brought to.
  std::pair<std::int64_t, std::int64_t> target(std::int64_t height, std::int64_t width) const {
    if (letterbox > 0) {
      const double scale = static_cast<double>(letterbox) / std::max(height, width);
      return {std::max<std::int64_t>(1, std::llround(height * scale)),
              std::max<std::int64_t>(1, std::llround(width * scale))};
    }
    if (min_size > 0) {
      // In float32 and rounded down, as GeneralizedRCNNTransform computes its scale and interpolate its output
      // size from it: sizes equal to torchvision's to the pixel (tests/test_datasets.cpp compares them).
      const auto shorter = static_cast<float>(std::min(height, width));
      const auto longer = static_cast<float>(std::max(height, width));
      const float scale = std::min(static_cast<float>(min_size) / shorter, static_cast<float>(max_size) / longer);
      const auto side = [&](std::int64_t length) {
        const float scaled = static_cast<float>(length) * scale;
        return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(scaled)));
      };
      return {side(height), side(width)};
    }
    return {height, width};
  }
  // The canvas an image of that size lies in: the letterbox's square, or the image itself.
  std::pair<std::int64_t, std::int64_t> canvas(std::int64_t height, std::int64_t width) const {
    return letterbox > 0 ? std::pair{letterbox, letterbox} : target(height, width);
  }
};

class CocoSplit final : public ft::Split {
 public:
  CocoSplit(std::vector<ImageObjects> images, std::map<std::int64_t, std::int64_t> labels, Sizing sizing,
            std::int64_t channels, Augment augment)
      : images_(std::move(images)),
        labels_(std::move(labels)),
        sizing_(sizing),
        channels_(channels),
        augment_(augment) {}
  std::int64_t size() const override { return static_cast<std::int64_t>(images_.size()); }

  ft::Example get(std::int64_t index) const override { return example(index, false, 1.0, sizing_); }

  // Training images drawn per example from the run's seed, epoch and index (resume stays exact): flipped left to
  // right with probability 1/2 (`hflip`), shrunk by a factor in `scale_range` inside their canvas, and resized with
  // one of several `min_size`s; boxes follow.
  ft::Example get_for_training(std::int64_t index, std::uint64_t draw) const override {
    if (!draws_random()) return get(index);
    std::mt19937_64 random(draw);
    // Uniform draws from the engine's bits, the same on every standard library (its distributions are not).
    const auto uniform = [&] { return static_cast<double>(random() >> 11) * 0x1.0p-53; };
    const bool flip = augment_.hflip && uniform() < 0.5;
    const double shrink = augment_.scale_low + (augment_.scale_high - augment_.scale_low) * uniform();
    Sizing sizing = sizing_;
    if (const auto& sizes = sizing_.training_min_sizes; sizes.size() > 1) {  // drawn last: other draws unchanged
      const auto at =
          std::min(sizes.size() - 1, static_cast<std::size_t>(uniform() * static_cast<double>(sizes.size())));
      sizing.min_size = sizes[at];
    }
    return example(index, flip, shrink, sizing);
  }
  bool draws_random() const override {
    return augment_.hflip || augment_.scale_low < 1 || sizing_.training_min_sizes.size() > 1;
  }

 private:
  // The image, brought to its size by `sizing` times `shrink` and placed at the top left of its canvas, flipped
  // when `flip`; its objects with it.
  ft::Example example(std::int64_t index, bool flip, double shrink, const Sizing& sizing) const {
    const ImageObjects& image = images_.at(static_cast<std::size_t>(index));
    // Images are decoded as batches need them: one rewritten during the run (its set built again) would train
    // with the annotations read at the start, silently wrong.
    std::error_code unknown;
    if (const auto modified = fs::last_write_time(image.path, unknown); !unknown && modified != image.modified) {
      throw ft::DataError(image.path +
                          " changed after the run read its annotations: its boxes may no longer be "
                          "its objects; start the run again on the new data");
    }
    const auto rgb = ft_plugins::decode(ft_plugins::read_image_file(image.path));
    if (rgb.width != image.width || rgb.height != image.height) {
      throw ft::DataError(image.path + " is " + std::to_string(rgb.width) + "x" + std::to_string(rgb.height) +
                          ", but its annotation file says " + std::to_string(image.width) + "x" +
                          std::to_string(image.height));
    }
    auto pixels =
        torch::from_blob(const_cast<std::uint8_t*>(rgb.pixels.data()), {rgb.height, rgb.width, 3}, torch::kUInt8)
            .permute({2, 0, 1});
    if (channels_ == 1) {
      // Luminance as Pillow's convert("L") computes it (ITU-R 601-2); a grey image's three channels are equal.
      const auto rgb_float = pixels.to(torch::kFloat32);
      pixels =
          (rgb_float[0] * 0.299 + rgb_float[1] * 0.587 + rgb_float[2] * 0.114).round().to(torch::kUInt8).unsqueeze(0);
    }
    const auto [canvas_height, canvas_width] = sizing.canvas(rgb.height, rgb.width);
    auto [height, width] = sizing.target(rgb.height, rgb.width);
    if (shrink != 1.0) {
      width = std::max<std::int64_t>(1, std::llround(width * shrink));
      height = std::max<std::int64_t>(1, std::llround(height * shrink));
    }
    if (height != rgb.height || width != rgb.width) {
      pixels = torch::nn::functional::interpolate(pixels.unsqueeze(0).to(torch::kFloat32),
                                                  torch::nn::functional::InterpolateFuncOptions()
                                                      .size(std::vector<std::int64_t>{height, width})
                                                      .mode(torch::kBilinear)
                                                      .align_corners(false)
                                                      .antialias(true))[0]
                   .round()
                   .clamp(0, 255)
                   .to(torch::kUInt8);
    }
    if (flip) pixels = pixels.flip({2});
    // A new tensor in every case: `rgb`'s pixels go when this returns.
    auto canvas = torch::zeros({channels_, canvas_height, canvas_width}, torch::kUInt8);
    canvas.narrow(1, 0, height).narrow(2, 0, width).copy_(pixels);
    const double scale_x = static_cast<double>(width) / rgb.width, scale_y = static_cast<double>(height) / rgb.height;

    const auto count = static_cast<std::int64_t>(image.objects.size());
    auto boxes = torch::empty({count, 4}, torch::kFloat32);
    auto labels = torch::empty({count}, torch::kInt64);
    auto crowd = torch::empty({count}, torch::kUInt8);
    auto areas = torch::empty({count}, torch::kFloat32);
    for (std::int64_t k = 0; k < count; ++k) {
      const auto& object = image.objects[static_cast<std::size_t>(k)];
      const auto [x, y, w, h] = object.bbox;
      const double x1 = x * scale_x, x2 = (x + w) * scale_x;
      boxes[k][0] = flip ? width - x2 : x1;
      boxes[k][1] = y * scale_y;
      boxes[k][2] = flip ? width - x1 : x2;
      boxes[k][3] = (y + h) * scale_y;
      labels[k] = labels_.at(object.category_id);
      crowd[k] = object.crowd ? 1 : 0;
      areas[k] = object.area;
    }
    return {{ft::tensor_names::kImages, canvas},
            {ft::tensor_names::kImageSizes, torch::tensor({height, width}, torch::kInt64)},
            {ft::tensor_names::kImageScales,
             torch::tensor({static_cast<float>(scale_x), static_cast<float>(scale_y)}, torch::kFloat32)},
            {ft::tensor_names::kBoxes, boxes},
            {ft::tensor_names::kBoxLabels, labels},
            {"box_crowd", crowd},
            {"box_areas", areas},
            {ft::tensor_names::kImageIds, torch::tensor(image.id, torch::kInt64)}};
  }

  std::vector<ImageObjects> images_;
  std::map<std::int64_t, std::int64_t> labels_;  // category id -> label
  Sizing sizing_;
  std::int64_t channels_ = 3;
  Augment augment_;
};

class Coco final : public ft_plugins::StoredDataset {
 public:
  Coco(const ft::Params& params, const ft::DatasetContext& ctx) {
    const auto root = params.required<std::string>("root");
    const auto train_split = params.get<std::string>("train_split", "train");
    const auto validation_split = params.get<std::string>("validation_split", "val");
    const auto test_split = params.get<std::string>("test_split", "");
    const auto categories = params.get<std::vector<std::string>>("categories", {});
    const auto shots = params.get<std::int64_t>("shots", 0);
    sizing_.letterbox = params.get<std::int64_t>("image_size", 0);
    const auto* min_size = params.find("min_size");
    if (min_size != nullptr && std::holds_alternative<ft::ParamValue::Array>(min_size->data)) {
      sizing_.training_min_sizes = params.required<std::vector<std::int64_t>>("min_size");
      if (sizing_.training_min_sizes.empty()) params.fail("min_size", "a list needs at least one size");
      for (const auto size : sizing_.training_min_sizes) {
        if (size < 32) params.fail("min_size", "each size must be at least 32");
      }
      sizing_.min_size = sizing_.training_min_sizes.back();
    } else {
      sizing_.min_size = params.get<std::int64_t>("min_size", 0);
    }
    sizing_.max_size = params.get<std::int64_t>("max_size", 1333);
    augment_.hflip = params.get<bool>("hflip", false);
    const auto scale_range = params.get<std::vector<double>>("scale_range", {1.0, 1.0});
    info_.tensors = {ft::tensor_names::kImages,
                     ft::tensor_names::kImageSizes,
                     ft::tensor_names::kImageScales,
                     ft::tensor_names::kBoxes,
                     ft::tensor_names::kBoxLabels,
                     "box_crowd",
                     "box_areas",
                     ft::tensor_names::kImageIds};
    channels_ = params.get<std::int64_t>("channels", 3);
    if (channels_ != 1 && channels_ != 3) params.fail("channels", "must be 3 (RGB) or 1 (grey)");
    // ImageNet's statistics; for grey images their channels' averages.
    info_.mean = params.get<std::vector<double>>(
        "mean", channels_ == 3 ? std::vector<double>{0.485, 0.456, 0.406} : std::vector<double>{0.449});
    info_.std = params.get<std::vector<double>>(
        "std", channels_ == 3 ? std::vector<double>{0.229, 0.224, 0.225} : std::vector<double>{0.226});
    if (shots < 0) params.fail("shots", "must be 0 (every image) or the number of images per category");
    if (sizing_.letterbox != 0 && sizing_.letterbox < 32) params.fail("image_size", "must be 0 (keep) or at least 32");
    if (sizing_.min_size != 0 && sizing_.min_size < 32) params.fail("min_size", "must be 0 (off) or at least 32");
    if (sizing_.min_size > 0 && sizing_.letterbox > 0) {
      params.fail("min_size", "resizes each image as torchvision does, image_size letterboxes it: set one of them");
    }
    for (const auto size : sizing_.training_min_sizes) {
      if (sizing_.max_size < size) params.fail("max_size", "must be at least every min_size");
    }
    if (sizing_.max_size < sizing_.min_size) params.fail("max_size", "must be at least min_size");
    if (scale_range.size() != 2 || !(scale_range[0] > 0) || scale_range[0] > scale_range[1] || scale_range[1] > 1) {
      params.fail("scale_range", "expected [low, high] with 0 < low <= high <= 1 (training images are only shrunk)");
    }
    augment_.scale_low = scale_range[0];
    augment_.scale_high = scale_range[1];
    if (info_.mean.size() != static_cast<std::size_t>(channels_) || info_.std.size() != info_.mean.size()) {
      params.fail("mean", "mean and std need one value per channel (" + std::to_string(channels_) + ")");
    }
    if (!fs::is_directory(root)) {
      throw ft::DataError("COCO folder " + root + " not found: expected annotations/instances_<split>.json and a " +
                          "folder of images per split (build one from Fashion-MNIST with " +
                          "scripts/fashion_mnist_detection.py " + root + ")");
    }

    auto train = read(root, train_split, categories);
    if (shots > 0) train = ft_plugins::few_shot(train, shots, ctx.seed);
    for (std::size_t i = 0; i < train.categories.size(); ++i) {
      labels_[train.categories[i].id] = static_cast<std::int64_t>(i);
      info_.class_names.push_back(train.categories[i].name);
    }
    info_.num_classes = static_cast<std::int64_t>(info_.class_names.size());
    if (info_.num_classes == 0) throw ft::DataError(annotation_file(root, train_split) + " has no categories");
    train_ = split_of(root, train_split, train, augment_);
    validation_ = split_of(root, validation_split, read(root, validation_split, categories), {});
    if (!test_split.empty()) test_ = split_of(root, test_split, read(root, test_split, categories), {});
    ctx.log.info("COCO " + root + ": " + std::to_string(train_->size()) + " train, " +
                 std::to_string(validation_->size()) + " validation" +
                 (test_ ? ", " + std::to_string(test_->size()) + " test" : std::string()) + " images, " +
                 std::to_string(info_.num_classes) + " categories, images up to " + std::to_string(info_.input.width) +
                 "x" + std::to_string(info_.input.height));
  }

 private:
  static std::string annotation_file(const std::string& root, const std::string& split) {
    return (fs::path(root) / "annotations" / ("instances_" + split + ".json")).string();
  }

  ft_plugins::CocoAnnotations read(const std::string& root, const std::string& split,
                                   const std::vector<std::string>& categories) {
    const auto file = annotation_file(root, split);
    auto annotations = ft_plugins::read_coco_annotations(file);
    if (!categories.empty()) annotations = ft_plugins::keep_categories(annotations, categories, file);
    if (!train_categories_.empty()) {
      std::vector<std::int64_t> ids;
      for (const auto& category : annotations.categories) ids.push_back(category.id);
      if (ids != train_categories_) {
        throw ft::DataError(file + " has other categories than " + train_file_ +
                            " (every split must have the same category ids)");
      }
    } else {
      for (const auto& category : annotations.categories) train_categories_.push_back(category.id);
      train_file_ = file;
    }
    const auto folder = (fs::path(root) / split).string();
    const auto missing = ft_plugins::missing_image_files(annotations, folder);
    if (!missing.empty()) {
      std::string list;
      for (const auto& path : missing) list += "\n  " + path;
      throw ft::DataError(file + " names images that are missing from " + folder + ":" + list);
    }
    return annotations;
  }

  std::shared_ptr<CocoSplit> split_of(const std::string& root, const std::string& split,
                                      const ft_plugins::CocoAnnotations& annotations, Augment augment) {
    std::map<std::int64_t, std::size_t> position;
    std::vector<ImageObjects> images;
    // The dataset's input: the largest canvas of any split at the largest min_size (batches pad to theirs).
    Sizing largest = sizing_;
    for (const auto size : sizing_.training_min_sizes) largest.min_size = std::max(largest.min_size, size);
    for (const auto& image : annotations.images) {
      position[image.id] = images.size();
      const auto path = (fs::path(root) / split / image.file_name).string();
      std::error_code unknown;  // a missing file was refused above; a stat failing now is found at decoding
      images.push_back({image.id, path, image.width, image.height, fs::last_write_time(path, unknown), {}});
      const auto [height, width] = largest.canvas(image.height, image.width);
      info_.input = {channels_, std::max(info_.input.height, height), std::max(info_.input.width, width)};
    }
    for (const auto& object : annotations.objects) images[position.at(object.image_id)].objects.push_back(object);
    return std::make_shared<CocoSplit>(std::move(images), labels_, sizing_, channels_, augment);
  }

  Sizing sizing_;
  std::int64_t channels_ = 3;
  Augment augment_;
  std::map<std::int64_t, std::int64_t> labels_;
  std::vector<std::int64_t> train_categories_;
  std::string train_file_;
};

void register_components(ft::Registry& registry) {
  registry.add_dataset("coco", [](const ft::Params& params, const ft::DatasetContext& ctx) {
    return std::make_shared<Coco>(params, ctx);
  });
}

}  // namespace

FT_PLUGIN("coco", "1.0.0", register_components)
