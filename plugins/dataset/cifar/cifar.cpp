// cifar10 and cifar100: the official binary versions (https://www.cs.toronto.edu/~kriz/cifar.html), 32x32 RGB.
//   CIFAR-10:  data_batch_1.bin .. data_batch_5.bin, test_batch.bin; records of 1 label byte + 3072 pixel bytes
//   CIFAR-100: train.bin, test.bin; records of 1 coarse + 1 fine label byte + 3072 pixel bytes
// The record format itself is read in cifar_records.h.
//
// Parameters: root, label ("fine" or "coarse", CIFAR-100 only), and those of ../common/class_subsets.h.
#include "../common/class_subsets.h"
#include "cifar_records.h"

#include <ftsdk/files.h>
#include <ftsdk/plugin.h>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kCifar10Names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};

struct Layout {
  std::string name;          // "CIFAR-10"
  std::string default_root;  // where the archive unpacks
  std::string url;           // the official download
  std::vector<std::string> train_files, test_files;
  std::int64_t label_bytes;  // 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine)
};

const Layout kCifar10{
    "CIFAR-10",
    "data/cifar-10-batches-bin",
    "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
    {"test_batch.bin"},
    1};
const Layout kCifar100{"CIFAR-100",
                       "data/cifar-100-binary",
                       "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
                       {"train.bin"},
                       {"test.bin"},
                       2};

std::string missing_message(const Layout& layout, const std::string& root, const std::string& file) {
  std::string files;
  for (const auto& name : layout.train_files) files += name + ", ";
  files += layout.test_files.front();
  return layout.name + " not found: expected " + (fs::path(root) / file).string() + " (the folder should hold " +
         files + "). Download the binary version from " + layout.url + " and unpack it, or run " +
         "scripts/fetch_cifar.sh " + (layout.label_bytes == 1 ? "cifar10" : "cifar100") + " data" +
         " (needs internet access); then set [dataset] root to the folder";
}

// Appends the records of one file; `label_byte` picks which label byte to keep.
void read_file(const Layout& layout, const std::string& root, const std::string& file, std::int64_t label_byte,
               std::int64_t num_classes, ft_plugins::LabelledImages& out) {
  const std::string path = (fs::path(root) / file).string();
  ft::check_regular_file(path, layout.name + " file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw ft::DataError(missing_message(layout, root, file));
  const auto size = static_cast<std::streamsize>(in.tellg());
  in.seekg(0);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(std::max<std::streamsize>(size, 0)));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) throw ft::DataError(path + ": cannot be read");
  ft_plugins::append_cifar_records(bytes, layout.label_bytes, label_byte, num_classes, path, layout.name, out);
}

ft_plugins::LabelledImages read_set(const Layout& layout, const std::string& root,
                                    const std::vector<std::string>& files, std::int64_t label_byte,
                                    std::int64_t num_classes) {
  ft_plugins::LabelledImages images;
  images.channels = 3;
  images.height = images.width = 32;
  for (const auto& file : files) read_file(layout, root, file, label_byte, num_classes, images);
  return images;
}

std::vector<std::string> read_names(const std::string& path) {
  std::vector<std::string> names;
  ft::check_regular_file(path, "class names file");
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

class Cifar final : public ft_plugins::ClassSubsetDataset {
 public:
  Cifar(const Layout& layout, const ft::Params& params, const ft::DatasetContext& ctx) {
    const auto root = params.get<std::string>("root", layout.default_root);
    std::int64_t label_byte = 0, num_classes = 10;
    std::vector<std::string> names = kCifar10Names;
    if (layout.label_bytes == 2) {
      const auto label = params.get<std::string>("label", "fine");
      if (label != "fine" && label != "coarse") params.fail("label", "expected \"fine\" or \"coarse\"");
      label_byte = label == "fine" ? 1 : 0;
      num_classes = label == "fine" ? 100 : 20;
      names = read_names((fs::path(root) / (label + "_label_names.txt")).string());
    }
    const auto train = read_set(layout, root, layout.train_files, label_byte, num_classes);
    const auto test = read_set(layout, root, layout.test_files, label_byte, num_classes);
    subsets_ = ft_plugins::split_by_class(params, ctx.seed, num_classes, train, test);
    info_.num_classes = static_cast<std::int64_t>(subsets_.classes.size());
    info_.input = {3, 32, 32};
    // Per-channel statistics of the training images, scaled to [0, 1] (the values torchvision users quote).
    if (layout.label_bytes == 1) {
      info_.mean = {0.4914, 0.4822, 0.4465};
      info_.std = {0.2470, 0.2435, 0.2616};
    } else {
      info_.mean = {0.5071, 0.4865, 0.4409};
      info_.std = {0.2673, 0.2564, 0.2762};
    }
    if (names.size() == static_cast<std::size_t>(num_classes)) {
      for (const auto cls : subsets_.classes) info_.class_names.push_back(names[cls]);
    }
    ctx.log.info(layout.name + " from " + root + ": " + ft_plugins::describe(subsets_));
  }
};

void register_components(ft::Registry& registry) {
  registry.add_dataset("cifar10", [](const ft::Params& params, const ft::DatasetContext& ctx) {
    return std::make_shared<Cifar>(kCifar10, params, ctx);
  });
  registry.add_dataset("cifar100", [](const ft::Params& params, const ft::DatasetContext& ctx) {
    return std::make_shared<Cifar>(kCifar100, params, ctx);
  });
}

}  // namespace

FT_PLUGIN("cifar", "1.0.0", register_components)
