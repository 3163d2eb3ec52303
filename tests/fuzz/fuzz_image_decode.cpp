// image_folder's JPEG and PNG decoding (libjpeg-turbo, libspng): any bytes as an image file.
#include "image_decode.h"

#include <ftsdk/error.h>

#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    ft_plugins::decode_rgb(std::vector<std::uint8_t>(data, data + size), "fuzz.img");
  } catch (const ft::DataError&) {
  }
  return 0;
}
