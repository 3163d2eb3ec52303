#pragma once
// JPEG and PNG decoding with the reference libraries: libjpeg-turbo (TurboJPEG API) and libspng, both fuzzed
// upstream (OSS-Fuzz). stb_image, used before, has a heap overflow on crafted JPEG Huffman tables that
// tests/fuzz found in minutes. Free of LibTorch, so it is fuzzed here too (tests/fuzz/fuzz_image_decode.cpp).

#include <cstdint>
#include <string>
#include <vector>

namespace ft_plugins {

/// Images larger than this on either side are refused: a 60-byte header could otherwise ask for gigabytes.
inline constexpr int kMaxImageSide = 1 << 14;

struct RgbImage {
  int width = 0, height = 0;
  /// height x width x 3 bytes, row-major.
  std::vector<std::uint8_t> pixels;
};

/// Decodes a JPEG or PNG file held in `bytes` (the format is told by its signature, not its name) to 8-bit RGB.
/// Damaged data is an error, warnings included (a truncated JPEG would otherwise decode to grey). Throws
/// ft::DataError naming `path` and the decoder's reason.
RgbImage decode_rgb(const std::vector<std::uint8_t>& bytes, const std::string& path);

/// Reads and decodes the file at `path`.
RgbImage decode_rgb_file(const std::string& path);

}  // namespace ft_plugins
