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

/// A file's bytes and its image's size, read from the header without decoding.
struct ImageFile {
  std::string path;
  std::vector<std::uint8_t> bytes;
  int width = 0, height = 0;
  bool jpeg = false;
};

struct RgbImage {
  int width = 0, height = 0;
  /// height x width x 3 bytes, row-major.
  std::vector<std::uint8_t> pixels;
  /// The decoded size over the file's full size: below 1 when a JPEG was decoded at a reduced scale.
  double scale = 1.0;
};

/// Reads the header of a JPEG or PNG file held in `bytes` (the format is told by its signature, not its name) and
/// checks its size against kMaxImageSide. Throws ft::DataError naming `path` and the reason.
ImageFile read_image(std::vector<std::uint8_t> bytes, const std::string& path);

/// Reads the file at `path` and its header.
ImageFile read_image_file(const std::string& path);

/// Decodes to 8-bit RGB. A JPEG may be decoded directly at a reduced size, in the DCT domain (TurboJPEG's scaling
/// factors 1/2 ... 1/8), by up to `max_reduction` on each side: several times faster than decoding in full and
/// resizing, for images much larger than the network's input. Damaged data is an error, warnings included (a
/// truncated JPEG would otherwise decode to grey). Throws ft::DataError naming the file and the decoder's reason.
RgbImage decode(const ImageFile& file, double max_reduction = 1.0);

/// `decode(read_image(bytes, path))`, at full size.
RgbImage decode_rgb(const std::vector<std::uint8_t>& bytes, const std::string& path);

}  // namespace ft_plugins
