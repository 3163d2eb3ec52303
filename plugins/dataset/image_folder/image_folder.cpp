// image_folder: one sub-folder per class of JPEG or PNG files (the torchvision ImageFolder layout), decoded with
// libjpeg-turbo and libspng (image_decode.h) and transformed as torchvision's standard transforms do
// (image_transforms.h): Resize(resize_size) + CenterCrop(image_size) for evaluation, and for training the same or
// RandomResizedCrop(image_size). Images are decoded when a batch asks for them; the core's loader threads decode
// batches ahead of the model.
//
//   root                folder of class folders (required); class names are the folder names, sorted
//   validation_root     optional folder with the same classes; otherwise validation_fraction of root per class
//   test_root           optional folder with the same classes
//   image_size          side of the square images handed to the backbone (224)
//   resize_size         shorter side before the centre crop (image_size * 8/7, rounded: 256 for 224)
//   random_resized_crop training images are random crops of crop_scale of the area and crop_ratio aspect,
//                       resized to image_size (false: resized and centre-cropped like evaluation images)
//   crop_scale          [0.08, 1.0], crop_ratio [0.75, 1.3333]: torchvision's defaults
//   dct_scaling         decode large JPEGs at 1/2 ... 1/8 size in the DCT domain when the result is still at least
//                       the size needed (true; false decodes every pixel, then resizes)
//   on_error            "skip" (default) or "fail": what to do with files that are not readable images
//   mean, std           per-channel normalisation (ImageNet's by default)
#include <ftsdk/plugin.h>

#include "../common/stored_dataset.h"
#include "image_decode.h"
#include "image_transforms.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string path;
  std::int64_t label;
};

bool is_image_name(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

std::vector<std::string> class_folders(const std::string& root) {
  std::error_code error;
  if (fs::exists(root, error) && !fs::is_directory(root, error)) {
    throw ft::DataError("image folder " + root + " is a file; expected a folder with one sub-folder per class");
  }
  if (!fs::is_directory(root, error)) {
    throw ft::DataError("image folder " + root +
                        " not found: expected one sub-folder per class holding .jpg, "
                        ".jpeg or .png files (root/<class>/<image>)");
  }
  std::vector<std::string> classes;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) classes.push_back(entry.path().filename().string());
  }
  std::sort(classes.begin(), classes.end());
  if (classes.size() < 2) {
    throw ft::DataError("image folder " + root + ": found " + std::to_string(classes.size()) +
                        " class folder(s), expected at least 2 (root/<class>/<image>)");
  }
  return classes;
}

// Whether the whole file decodes. Reading the header alone lets a damaged PNG through, to fail in the middle of
// training; a full decode when the dataset loads leaves it out (or refuses it) before the run is recorded.
bool decodes(const std::string& path) {
  try {
    // At 1/8 scale a JPEG's entropy-coded data is still read in full (what a damaged file fails), at a fraction of
    // the cost of the inverse DCT.
    ft_plugins::decode(ft_plugins::read_image_file(path), 8.0);
    return true;
  } catch (const ft::DataError&) {
    return false;
  }
}

// Lists the images of every class; files that do not decode are reported by path, then skipped or refused.
std::vector<Entry> list_images(const std::string& root, const std::vector<std::string>& classes, bool skip_bad,
                               ft::Logger& log) {
  std::vector<Entry> candidates;
  for (std::size_t label = 0; label < classes.size(); ++label) {
    const fs::path folder = fs::path(root) / classes[label];
    if (!fs::is_directory(folder)) {
      throw ft::DataError("image folder " + root + ": class folder " + classes[label] + " is missing");
    }
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.is_regular_file() && is_image_name(entry.path())) files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) candidates.push_back({file, static_cast<std::int64_t>(label)});
  }
  // Decoding every file once is the slow part of listing: spread it over the machine's threads.
  std::vector<char> good(candidates.size());
  const std::size_t workers = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      for (std::size_t i = w; i < candidates.size(); i += workers) good[i] = decodes(candidates[i].path);
    });
  }
  for (auto& thread : threads) thread.join();

  std::vector<Entry> entries;
  std::vector<std::string> bad;
  std::vector<std::int64_t> per_class(classes.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (!good[i]) {
      bad.push_back(candidates[i].path);
      continue;
    }
    entries.push_back(candidates[i]);
    ++per_class[static_cast<std::size_t>(candidates[i].label)];
  }
  if (!bad.empty()) {
    std::string list;
    for (const auto& path : bad) list += "\n  " + path;
    if (!skip_bad) {
      throw ft::DataError(std::to_string(bad.size()) + " file(s) in " + root +
                          " are not readable images (set [dataset] on_error = \"skip\" to leave them out):" + list);
    }
    log.warn("skipping " + std::to_string(bad.size()) + " unreadable image(s) in " + root + ":" + list);
  }
  for (std::size_t label = 0; label < classes.size(); ++label) {
    if (per_class[label] == 0) {
      throw ft::DataError("image folder " + root + ": class folder " + classes[label] +
                          " holds no readable .jpg or .png image; add images or remove the folder");
    }
  }
  return entries;
}

struct Transforms {
  std::int64_t size = 224, resize_size = 256;
  bool random_resized_crop = false;
  std::vector<double> scale{0.08, 1.0}, ratio{3.0 / 4.0, 4.0 / 3.0};
  bool dct_scaling = true;
};

class FileSplit final : public ft::Split {
 public:
  FileSplit(std::vector<Entry> entries, Transforms transforms)
      : entries_(std::move(entries)), transforms_(std::move(transforms)) {}
  std::int64_t size() const override { return static_cast<std::int64_t>(entries_.size()); }

  ft::Example get(std::int64_t index) const override {
    const Entry& entry = entries_.at(static_cast<std::size_t>(index));
    const auto file = ft_plugins::read_image_file(entry.path);
    const double shrink = static_cast<double>(std::min(file.width, file.height)) / transforms_.resize_size;
    const auto image = ft_plugins::decode(file, transforms_.dct_scaling ? shrink : 1.0);
    return ft::image_example(ft_plugins::resize_center_crop(image, transforms_.resize_size, transforms_.size),
                             entry.label);
  }

  ft::Example get_for_training(std::int64_t index, std::uint64_t draw) const override {
    if (!transforms_.random_resized_crop) return get(index);
    const Entry& entry = entries_.at(static_cast<std::size_t>(index));
    const auto file = ft_plugins::read_image_file(entry.path);
    std::mt19937_64 random(draw);
    const auto box =
        ft_plugins::random_resized_crop_box(file.width, file.height, random, transforms_.scale[0], transforms_.scale[1],
                                            transforms_.ratio[0], transforms_.ratio[1]);
    const auto image =
        ft_plugins::decode(file, transforms_.dct_scaling ? ft_plugins::max_reduction(box, transforms_.size) : 1.0);
    return ft::image_example(ft_plugins::crop_resize(image, box, transforms_.size), entry.label);
  }

  bool draws_random() const override { return transforms_.random_resized_crop; }

 private:
  std::vector<Entry> entries_;
  Transforms transforms_;
};

class ImageFolder final : public ft_plugins::StoredDataset {
 public:
  ImageFolder(const ft::Params& params, const ft::DatasetContext& ctx) {
    const auto root = params.required<std::string>("root");
    const auto validation_root = params.optional<std::string>("validation_root");
    const auto test_root = params.optional<std::string>("test_root");
    const double fraction = params.get_finite("validation_fraction", 0.1);
    const auto size = params.get<std::int64_t>("image_size", 224);
    Transforms transforms;
    transforms.size = size;
    transforms.resize_size = params.get<std::int64_t>("resize_size", (size * 8 + 3) / 7);
    transforms.random_resized_crop = params.get<bool>("random_resized_crop", false);
    transforms.scale = params.get<std::vector<double>>("crop_scale", transforms.scale);
    transforms.ratio = params.get<std::vector<double>>("crop_ratio", transforms.ratio);
    transforms.dct_scaling = params.get<bool>("dct_scaling", true);
    const auto on_error = params.get<std::string>("on_error", "skip");
    info_.mean = params.get<std::vector<double>>("mean", {0.485, 0.456, 0.406});
    info_.std = params.get<std::vector<double>>("std", {0.229, 0.224, 0.225});
    if (size < 8) params.fail("image_size", "must be at least 8");
    if (transforms.resize_size < size) params.fail("resize_size", "must be at least image_size");
    if (transforms.scale.size() != 2 || transforms.scale[0] <= 0 || transforms.scale[0] > transforms.scale[1] ||
        transforms.scale[1] > 1) {
      params.fail("crop_scale", "expected [min, max] with 0 < min <= max <= 1");
    }
    if (transforms.ratio.size() != 2 || transforms.ratio[0] <= 0 || transforms.ratio[0] > transforms.ratio[1]) {
      params.fail("crop_ratio", "expected [min, max] with 0 < min <= max");
    }
    if (on_error != "skip" && on_error != "fail") params.fail("on_error", "expected \"skip\" or \"fail\"");
    if (fraction < 0 || fraction >= 1) params.fail("validation_fraction", "must be in [0, 1)");
    if (info_.mean.size() != 3 || info_.std.size() != 3) params.fail("mean", "mean and std need 3 values (RGB)");
    const bool skip = on_error == "skip";

    info_.class_names = class_folders(root);
    info_.num_classes = static_cast<std::int64_t>(info_.class_names.size());
    info_.input = {3, size, size};
    auto entries = list_images(root, info_.class_names, skip, ctx.log);
    std::vector<Entry> validation;
    if (validation_root) {
      validation = list_images(*validation_root, info_.class_names, skip, ctx.log);
    } else {
      // Per class, a seeded share of the images becomes the validation split.
      std::mt19937_64 rng(ctx.seed);
      std::shuffle(entries.begin(), entries.end(), rng);
      std::vector<std::int64_t> total(info_.class_names.size()), taken(info_.class_names.size());
      for (const auto& entry : entries) ++total[entry.label];
      std::vector<Entry> train;
      for (auto& entry : entries) {
        auto& count = taken[entry.label];
        if (count < static_cast<std::int64_t>(fraction * total[entry.label] + 0.5)) {
          validation.push_back(entry);
          ++count;
        } else {
          train.push_back(entry);
        }
      }
      entries = std::move(train);
    }
    ctx.log.info("image folder " + root + ": " + std::to_string(entries.size()) + " train, " +
                 std::to_string(validation.size()) + " validation images, " + std::to_string(info_.num_classes) +
                 " classes, " + std::to_string(size) + "x" + std::to_string(size));
    train_ = std::make_shared<FileSplit>(std::move(entries), transforms);
    if (!validation.empty()) validation_ = std::make_shared<FileSplit>(std::move(validation), transforms);
    if (test_root) {
      test_ = std::make_shared<FileSplit>(list_images(*test_root, info_.class_names, skip, ctx.log), transforms);
    }
  }
};

void register_components(ft::Registry& registry) {
  registry.add_dataset("image_folder", [](const ft::Params& params, const ft::DatasetContext& ctx) {
    return std::make_shared<ImageFolder>(params, ctx);
  });
}

}  // namespace

FT_PLUGIN("image_folder", "1.0.0", register_components)
