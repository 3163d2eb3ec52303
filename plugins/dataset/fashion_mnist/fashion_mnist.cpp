// fashion_mnist: Zalando's Fashion-MNIST (60,000 training and 10,000 test images, 28x28 grey-scale, 10 classes),
// read straight from the gzip IDX files that Debian's dataset-fashion-mnist package installs.
//
// Parameters: root (folder of the four files), classes (subset to keep, relabelled 0..k-1 in the order given),
// samples_per_class (few-shot limit on the training split), validation_fraction (per class, taken from the
// training file before the limit so validation stays large), seed (defaults to the experiment's).
#include "idx_reader.h"

#include <ftsdk/plugin.h>

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <random>

namespace {

const char* const kClassNames[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
constexpr const char* kDefaultRoot = "/usr/share/datasets/fashion-mnist";

std::string find_file(const std::string& root, const std::string& stem) {
  namespace fs = std::filesystem;
  for (const std::string& name : {stem + ".gz", stem}) {
    if (fs::exists(fs::path(root) / name)) return (fs::path(root) / name).string();
  }
  throw ft::DataError("Fashion-MNIST not found: expected " + (fs::path(root) / (stem + ".gz")).string() +
                      " (and the other three IDX files). On Debian or Ubuntu: sudo apt-get install "
                      "dataset-fashion-mnist (installs them in " +
                      kDefaultRoot +
                      "); or download them from "
                      "https://github.com/zalandoresearch/fashion-mnist and set [dataset] root to their folder");
}

struct RawSplit {
  ft_plugins::IdxArray images, labels;
};

RawSplit read_split(const std::string& root, const std::string& prefix) {
  RawSplit raw{ft_plugins::read_idx(find_file(root, prefix + "-images-idx3-ubyte")),
               ft_plugins::read_idx(find_file(root, prefix + "-labels-idx1-ubyte"))};
  if (raw.images.dims.size() != 3 || raw.labels.dims.size() != 1 || raw.images.dims[0] != raw.labels.dims[0]) {
    throw ft::DataError(root + ": " + prefix +
                        " images and labels do not match (expected N x 28 x 28 images and N "
                        "labels)");
  }
  return raw;
}

std::shared_ptr<const ft::Split> make_split(const RawSplit& raw, const std::vector<std::int64_t>& picked,
                                            const std::vector<std::int64_t>& new_label) {
  const std::int64_t h = raw.images.dims[1], w = raw.images.dims[2];
  auto images = torch::empty({static_cast<std::int64_t>(picked.size()), 1, h, w}, torch::kUInt8);
  auto labels = torch::empty({static_cast<std::int64_t>(picked.size())}, torch::kLong);
  auto* pixels = images.data_ptr<std::uint8_t>();
  auto* classes = labels.data_ptr<std::int64_t>();
  for (std::size_t i = 0; i < picked.size(); ++i) {
    std::copy_n(raw.images.data.data() + picked[i] * h * w, h * w, pixels + i * h * w);
    classes[i] = new_label[raw.labels.data[picked[i]]];
  }
  return std::make_shared<ft::TensorSplit>(images, labels);
}

class FashionMnist final : public ft::Dataset {
 public:
  FashionMnist(const ft::Params& params, const ft::DatasetContext& ctx) {
    const auto root = params.get<std::string>("root", kDefaultRoot);
    std::vector<std::int64_t> classes =
        params.get<std::vector<std::int64_t>>("classes", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    const auto limit = params.optional<std::int64_t>("samples_per_class");
    const double fraction = params.get<double>("validation_fraction", 0.1);
    const auto seed = static_cast<std::uint64_t>(params.get<std::int64_t>("seed", static_cast<std::int64_t>(ctx.seed)));
    if (classes.size() < 2) params.fail("classes", "needs at least two classes");
    std::vector<std::int64_t> new_label(10, -1);
    for (std::size_t i = 0; i < classes.size(); ++i) {
      if (classes[i] < 0 || classes[i] > 9) params.fail("classes", "class ids are 0..9");
      if (new_label[classes[i]] >= 0) params.fail("classes", "lists class " + std::to_string(classes[i]) + " twice");
      new_label[classes[i]] = static_cast<std::int64_t>(i);
      info_.class_names.push_back(kClassNames[classes[i]]);
    }
    if (limit && *limit < 1) params.fail("samples_per_class", "must be at least 1");
    if (fraction < 0 || fraction >= 1) params.fail("validation_fraction", "must be in [0, 1)");

    const RawSplit train_raw = read_split(root, "train");
    const RawSplit test_raw = read_split(root, "t10k");

    // Per class: shuffle with the seed, the first `fraction` to validation, the rest (up to the limit) to train.
    std::vector<std::int64_t> train_picked, validation_picked, test_picked;
    for (const auto cls : classes) {
      std::vector<std::int64_t> members;
      for (std::size_t i = 0; i < train_raw.labels.data.size(); ++i) {
        if (train_raw.labels.data[i] == cls) members.push_back(static_cast<std::int64_t>(i));
      }
      std::mt19937_64 rng(seed * 1000003u + static_cast<std::uint64_t>(cls));
      std::shuffle(members.begin(), members.end(), rng);
      const auto n_validation = static_cast<std::size_t>(fraction * members.size() + 0.5);
      validation_picked.insert(validation_picked.end(), members.begin(), members.begin() + n_validation);
      auto train_end = members.end();
      if (limit) train_end = members.begin() + std::min<std::size_t>(n_validation + *limit, members.size());
      train_picked.insert(train_picked.end(), members.begin() + n_validation, train_end);
      for (std::size_t i = 0; i < test_raw.labels.data.size(); ++i) {
        if (test_raw.labels.data[i] == cls) test_picked.push_back(static_cast<std::int64_t>(i));
      }
    }
    train_ = make_split(train_raw, train_picked, new_label);
    if (!validation_picked.empty()) validation_ = make_split(train_raw, validation_picked, new_label);
    test_ = make_split(test_raw, test_picked, new_label);

    info_.num_classes = static_cast<std::int64_t>(classes.size());
    info_.input = {1, train_raw.images.dims[1], train_raw.images.dims[2]};
    // Mean and standard deviation of the 60,000 training images, pixels scaled to [0, 1].
    info_.mean = {0.2860};
    info_.std = {0.3530};
    ctx.log.info("Fashion-MNIST from " + root + ": " + std::to_string(train_picked.size()) + " train, " +
                 std::to_string(validation_picked.size()) + " validation, " + std::to_string(test_picked.size()) +
                 " test images, " + std::to_string(classes.size()) + " classes");
  }

  ft::DatasetInfo info() const override { return info_; }
  std::shared_ptr<const ft::Split> train() const override { return train_; }
  std::shared_ptr<const ft::Split> validation() const override { return validation_; }
  std::shared_ptr<const ft::Split> test() const override { return test_; }

 private:
  ft::DatasetInfo info_;
  std::shared_ptr<const ft::Split> train_, validation_, test_;
};

void register_components(ft::Registry& registry) {
  registry.add_dataset("fashion_mnist", [](const ft::Params& params, const ft::DatasetContext& ctx) {
    return std::make_shared<FashionMnist>(params, ctx);
  });
}

}  // namespace

FT_PLUGIN("fashion_mnist", "1.0.0", register_components)
