#include "image_decode.h"

#include <ftsdk/error.h>
#include <ftsdk/files.h>

#include <spng.h>
#include <turbojpeg.h>

#include <fstream>
#include <memory>

namespace ft_plugins {
namespace {

using Decompressor = std::unique_ptr<void, int (*)(tjhandle)>;
using PngContext = std::unique_ptr<spng_ctx, void (*)(spng_ctx*)>;

bool starts_with(const std::vector<std::uint8_t>& bytes, std::initializer_list<std::uint8_t> signature) {
  return bytes.size() >= signature.size() && std::equal(signature.begin(), signature.end(), bytes.begin());
}

void check_size(int width, int height, const std::string& path) {
  if (width <= 0 || height <= 0 || width > kMaxImageSide || height > kMaxImageSide) {
    throw ft::DataError(path + ": image of " + std::to_string(width) + "x" + std::to_string(height) +
                        " pixels; at most " + std::to_string(kMaxImageSide) + " on a side is supported");
  }
}

Decompressor jpeg_decoder(const std::string& path) {
  Decompressor handle(tjInitDecompress(), tjDestroy);
  if (!handle) throw ft::DataError(path + ": cannot start the JPEG decoder");
  return handle;
}

// TurboJPEG 2.1 takes non-const pointers; it only reads.
unsigned char* jpeg_data(const ImageFile& file) { return const_cast<unsigned char*>(file.bytes.data()); }

PngContext png_decoder(const ImageFile& file, const std::string& path) {
  PngContext context(spng_ctx_new(0), spng_ctx_free);
  if (!context) throw ft::DataError(path + ": cannot start the PNG decoder");
  spng_set_image_limits(context.get(), kMaxImageSide, kMaxImageSide);
  spng_set_chunk_limits(context.get(), 64u << 20, 64u << 20);
  if (int code = spng_set_png_buffer(context.get(), file.bytes.data(), file.bytes.size())) {
    throw ft::DataError(path + ": cannot decode PNG: " + spng_strerror(code));
  }
  return context;
}

// The smallest of 1/2, 1/4 and 1/8 that reduces each side by no more than `max_reduction`, or 1. TurboJPEG also
// offers 7/8 ... 9/16, but those inverse DCTs are plain C, slower than a full-size decode with SIMD.
tjscalingfactor jpeg_scale(double max_reduction) {
  tjscalingfactor best{1, 1};
  for (int denom : {2, 4, 8}) {
    if (denom <= max_reduction) best = {1, denom};
  }
  return best;
}

RgbImage decode_jpeg(const ImageFile& file, double max_reduction) {
  const Decompressor handle = jpeg_decoder(file.path);
  const tjscalingfactor factor = jpeg_scale(max_reduction);
  RgbImage image;
  image.width = TJSCALED(file.width, factor);
  image.height = TJSCALED(file.height, factor);
  image.scale = static_cast<double>(factor.num) / factor.denom;
  image.pixels.resize(static_cast<std::size_t>(image.width) * image.height * 3);
  if (tjDecompress2(handle.get(), jpeg_data(file), static_cast<unsigned long>(file.bytes.size()), image.pixels.data(),
                    image.width, 0, image.height, TJPF_RGB, TJFLAG_STOPONWARNING) != 0) {
    throw ft::DataError(file.path + ": cannot decode JPEG: " + tjGetErrorStr2(handle.get()));
  }
  return image;
}

RgbImage decode_png(const ImageFile& file) {
  const PngContext context = png_decoder(file, file.path);
  std::size_t size = 0;
  auto fail = [&](int code) { throw ft::DataError(file.path + ": cannot decode PNG: " + spng_strerror(code)); };
  if (int code = spng_decoded_image_size(context.get(), SPNG_FMT_RGB8, &size)) fail(code);
  RgbImage image{file.width, file.height, std::vector<std::uint8_t>(size)};
  if (int code = spng_decode_image(context.get(), image.pixels.data(), size, SPNG_FMT_RGB8, 0)) fail(code);
  return image;
}

}  // namespace

ImageFile read_image(std::vector<std::uint8_t> bytes, const std::string& path) {
  ImageFile file;
  file.path = path;
  file.bytes = std::move(bytes);
  if (starts_with(file.bytes, {0xff, 0xd8, 0xff})) {
    file.jpeg = true;
    const Decompressor handle = jpeg_decoder(path);
    int subsampling = 0, colorspace = 0;
    if (tjDecompressHeader3(handle.get(), jpeg_data(file), static_cast<unsigned long>(file.bytes.size()), &file.width,
                            &file.height, &subsampling, &colorspace) != 0) {
      throw ft::DataError(path + ": cannot decode JPEG: " + tjGetErrorStr2(handle.get()));
    }
  } else if (starts_with(file.bytes, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})) {
    const PngContext context = png_decoder(file, path);
    spng_ihdr header{};
    if (int code = spng_get_ihdr(context.get(), &header)) {
      throw ft::DataError(path + ": cannot decode PNG: " + spng_strerror(code));
    }
    // Above INT_MAX is refused by the size check below, not wrapped into a small number.
    file.width = static_cast<int>(std::min<std::uint32_t>(header.width, kMaxImageSide + 1));
    file.height = static_cast<int>(std::min<std::uint32_t>(header.height, kMaxImageSide + 1));
  } else {
    throw ft::DataError(path + ": neither a JPEG nor a PNG file (by its first bytes)");
  }
  check_size(file.width, file.height, path);
  return file;
}

ImageFile read_image_file(const std::string& path) {
  ft::check_regular_file(path, "image");
  // One read of the whole file: a byte-wise stream iterator costs as much as decoding a small JPEG.
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw ft::DataError(path + ": cannot be read");
  const std::streamoff size = in.tellg();
  if (size < 0 || size > (std::streamoff{1} << 30)) throw ft::DataError(path + ": cannot be read, or over 1 GB");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) throw ft::DataError(path + ": cannot be read");
  return read_image(std::move(bytes), path);
}

RgbImage decode(const ImageFile& file, double max_reduction) {
  return file.jpeg ? decode_jpeg(file, max_reduction) : decode_png(file);
}

RgbImage decode_rgb(const std::vector<std::uint8_t>& bytes, const std::string& path) {
  return decode(read_image(bytes, path));
}

}  // namespace ft_plugins
