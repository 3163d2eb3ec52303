#pragma once
// Decoded images with their labels, as the in-memory dataset readers produce them. Free of LibTorch so that the
// readers can be tested and fuzzed on their own.

#include <ftsdk/error.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ft_plugins {

/// Images of one file set, decoded: `pixels` holds `count` images of channels x height x width bytes each.
struct LabelledImages {
  std::vector<std::uint8_t> pixels;
  std::vector<std::int64_t> labels;
  std::int64_t channels = 0, height = 0, width = 0;
  std::int64_t count() const { return static_cast<std::int64_t>(labels.size()); }
};

/// Throws DataError when a label of `images` is not a class id (0 .. num_classes-1): a damaged file or one from
/// another dataset, which would otherwise be dropped without a word. `source` names the file in the message.
inline void check_labels(const LabelledImages& images, std::int64_t num_classes, const std::string& source,
                         std::int64_t first_record = 0) {
  for (std::int64_t i = first_record; i < images.count(); ++i) {
    const auto label = images.labels[static_cast<std::size_t>(i)];
    if (label < 0 || label >= num_classes) {
      throw ft::DataError(source + ": record " + std::to_string(i - first_record) + " has label " +
                          std::to_string(label) + ", but the classes are 0.." + std::to_string(num_classes - 1) +
                          " (the file is damaged or belongs to another dataset)");
    }
  }
}

}  // namespace ft_plugins
