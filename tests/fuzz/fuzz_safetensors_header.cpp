// The .safetensors header: any bytes as the JSON header of a file with 1 MiB of data.
#include "model/safetensors_header.h"

#include <ftsdk/error.h>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    ft::parse_safetensors_header(std::string(reinterpret_cast<const char*>(data), size), 1 << 20, "fuzz.safetensors");
  } catch (const ft::DataError&) {
  }
  return 0;
}
