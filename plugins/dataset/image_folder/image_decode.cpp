#include "image_decode.h"

#include <ftsdk/error.h>

#include <spng.h>
#include <turbojpeg.h>

#include <fstream>
#include <iterator>
#include <memory>

namespace ft_plugins {
namespace {

bool starts_with(const std::vector<std::uint8_t>& bytes, std::initializer_list<std::uint8_t> signature) {
  return bytes.size() >= signature.size() && std::equal(signature.begin(), signature.end(), bytes.begin());
}

void check_size(int width, int height, const std::string& path) {
  if (width <= 0 || height <= 0 || width > kMaxImageSide || height > kMaxImageSide) {
    throw ft::DataError(path + ": image of " + std::to_string(width) + "x" + std::to_string(height) +
                        " pixels; at most " + std::to_string(kMaxImageSide) + " on a side is supported");
  }
}

RgbImage decode_jpeg(const std::vector<std::uint8_t>& bytes, const std::string& path) {
  std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) throw ft::DataError(path + ": cannot start the JPEG decoder");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  auto* data = const_cast<unsigned char*>(bytes.data());  // TurboJPEG 2.1 takes a non-const pointer; it only reads
  const auto size = static_cast<unsigned long>(bytes.size());
  if (tjDecompressHeader3(handle.get(), data, size, &width, &height, &subsampling, &colorspace) != 0) {
    throw ft::DataError(path + ": cannot decode JPEG: " + tjGetErrorStr2(handle.get()));
  }
  check_size(width, height, path);
  RgbImage image{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height * 3)};
  if (tjDecompress2(handle.get(), data, size, image.pixels.data(), width, 0, height, TJPF_RGB, TJFLAG_STOPONWARNING) !=
      0) {
    throw ft::DataError(path + ": cannot decode JPEG: " + tjGetErrorStr2(handle.get()));
  }
  return image;
}

RgbImage decode_png(const std::vector<std::uint8_t>& bytes, const std::string& path) {
  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> context(spng_ctx_new(0), spng_ctx_free);
  if (!context) throw ft::DataError(path + ": cannot start the PNG decoder");
  auto fail = [&](int code) { throw ft::DataError(path + ": cannot decode PNG: " + spng_strerror(code)); };
  spng_set_image_limits(context.get(), kMaxImageSide, kMaxImageSide);
  spng_set_chunk_limits(context.get(), 64u << 20, 64u << 20);
  if (int code = spng_set_png_buffer(context.get(), bytes.data(), bytes.size())) fail(code);
  spng_ihdr header{};
  if (int code = spng_get_ihdr(context.get(), &header)) fail(code);
  check_size(static_cast<int>(header.width), static_cast<int>(header.height), path);
  std::size_t size = 0;
  if (int code = spng_decoded_image_size(context.get(), SPNG_FMT_RGB8, &size)) fail(code);
  RgbImage image{static_cast<int>(header.width), static_cast<int>(header.height), std::vector<std::uint8_t>(size)};
  if (int code = spng_decode_image(context.get(), image.pixels.data(), size, SPNG_FMT_RGB8, 0)) fail(code);
  return image;
}

}  // namespace

RgbImage decode_rgb(const std::vector<std::uint8_t>& bytes, const std::string& path) {
  if (starts_with(bytes, {0xff, 0xd8, 0xff})) return decode_jpeg(bytes, path);
  if (starts_with(bytes, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})) return decode_png(bytes, path);
  throw ft::DataError(path + ": neither a JPEG nor a PNG file (by its first bytes)");
}

RgbImage decode_rgb_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ft::DataError(path + ": cannot be read");
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return decode_rgb(bytes, path);
}

}  // namespace ft_plugins
