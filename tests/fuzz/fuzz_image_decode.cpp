// image_folder's JPEG and PNG decoding (libjpeg-turbo, libspng): any bytes as an image file.
#include "image_decode.h"

#include <ftsdk/error.h>

#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    // In full, and at the smallest DCT scale a large image may be decoded at.
    const auto file = ft_plugins::read_image(std::vector<std::uint8_t>(data, data + size), "fuzz.img");
    ft_plugins::decode(file);
    if (file.jpeg) ft_plugins::decode(file, 8.0);
  } catch (const ft::DataError&) {
  }
  return 0;
}
