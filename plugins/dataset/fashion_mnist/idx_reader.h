#pragma once
// Reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), gzip-compressed or
// not. Independent of LibTorch so it can be tested and reused cheaply.

#include <cstdint>
#include <string>
#include <vector>

namespace ft_plugins {

/// An unsigned-byte IDX array: its dimensions and its data in row-major order.
struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> data;
};

/// Reads `path` (`.gz` or plain). Throws ft::DataError naming the file when it is missing, not IDX, not of
/// unsigned bytes, or shorter than its header says (with the expected and found sizes).
IdxArray read_idx(const std::string& path);

}  // namespace ft_plugins
