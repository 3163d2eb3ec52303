// fashion_mnist: Zalando's Fashion-MNIST (60,000 training and 10,000 test images, 28x28 grey-scale, 10 classes),
// read straight from the gzip IDX files that Debian's dataset-fashion-mnist package installs.
//
// Parameters: root (folder of the four files), and those of ../common/class_subsets.h (classes,
// samples_per_class, validation_fraction, seed).
#include "../common/class_subsets.h"
#include "idx_reader.h"

#include <ftsdk/plugin.h>

#include <filesystem>

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

ft_plugins::LabelledImages read_images(const std::string& root, const std::string& prefix) {
  auto images = ft_plugins::read_idx(find_file(root, prefix + "-images-idx3-ubyte"));
  const std::string labels_file = find_file(root, prefix + "-labels-idx1-ubyte");
  auto labels = ft_plugins::read_idx(labels_file);
  if (images.dims.size() != 3 || labels.dims.size() != 1 || images.dims[0] != labels.dims[0]) {
    throw ft::DataError(root + ": " + prefix +
                        " images and labels do not match (expected N x 28 x 28 images and N labels)");
  }
  ft_plugins::LabelledImages out;
  out.pixels = std::move(images.data);
  out.labels.assign(labels.data.begin(), labels.data.end());
  out.channels = 1;
  out.height = images.dims[1];
  out.width = images.dims[2];
  ft_plugins::check_labels(out, 10, labels_file);
  return out;
}

class FashionMnist final : public ft_plugins::ClassSubsetDataset {
 public:
  FashionMnist(const ft::Params& params, const ft::DatasetContext& ctx) {
    const auto root = params.get<std::string>("root", kDefaultRoot);
    const auto train = read_images(root, "train");
    subsets_ = ft_plugins::split_by_class(params, ctx.seed, 10, train, read_images(root, "t10k"));
    info_.num_classes = static_cast<std::int64_t>(subsets_.classes.size());
    info_.input = {1, train.height, train.width};
    // Mean and standard deviation of the 60,000 training images, pixels scaled to [0, 1].
    info_.mean = {0.2860};
    info_.std = {0.3530};
    for (const auto cls : subsets_.classes) info_.class_names.push_back(kClassNames[cls]);
    ctx.log.info("Fashion-MNIST from " + root + ": " + ft_plugins::describe(subsets_));
  }
};

void register_components(ft::Registry& registry) {
  registry.add_dataset("fashion_mnist", [](const ft::Params& params, const ft::DatasetContext& ctx) {
    return std::make_shared<FashionMnist>(params, ctx);
  });
}

}  // namespace

FT_PLUGIN("fashion_mnist", "1.0.0", register_components)
