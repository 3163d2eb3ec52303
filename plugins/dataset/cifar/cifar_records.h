#pragma once
// The records of one CIFAR binary file (https://www.cs.toronto.edu/~kriz/cifar.html): each is `label_bytes`
// label bytes (1 for CIFAR-10; coarse then fine for CIFAR-100) and 3072 pixel bytes, channel-major (all red,
// then green, then blue), which is already LibTorch's layout. Free of LibTorch, so it can be fuzzed.

#include "../common/labelled_images.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace ft_plugins {

inline constexpr std::int64_t kCifarPixels = 3 * 32 * 32;

/// Appends the records in `bytes` (a whole file) to `out`, keeping label byte `label_byte`, whose values must be
/// below `num_classes`. Any whole number of records is accepted: the official files hold 10,000 (CIFAR-10) or
/// 50,000 and 10,000 (CIFAR-100), and smaller data written in the same format is welcome. `path` and
/// `dataset_name` are for messages. Throws DataError.
inline void append_cifar_records(const std::vector<std::uint8_t>& bytes, std::int64_t label_bytes,
                                 std::int64_t label_byte, std::int64_t num_classes, const std::string& path,
                                 const std::string& dataset_name, LabelledImages& out) {
  const std::int64_t record = label_bytes + kCifarPixels;
  const auto size = static_cast<std::int64_t>(bytes.size());
  if (size == 0 || size % record != 0) {
    throw ft::DataError(path + ": " + std::to_string(size) + " bytes is not a whole number of " +
                        std::to_string(record) +
                        "-byte records; the file is truncated or not from the binary "
                        "version of " +
                        dataset_name);
  }
  const std::int64_t records = size / record;
  const std::size_t start = out.pixels.size();
  const std::int64_t first_record = out.count();
  out.pixels.resize(start + static_cast<std::size_t>(records * kCifarPixels));
  for (std::int64_t i = 0; i < records; ++i) {
    const std::uint8_t* entry = bytes.data() + i * record;
    out.labels.push_back(entry[label_byte]);
    std::copy_n(entry + label_bytes, kCifarPixels, out.pixels.data() + start + i * kCifarPixels);
  }
  check_labels(out, num_classes, path, first_record);
}

}  // namespace ft_plugins
