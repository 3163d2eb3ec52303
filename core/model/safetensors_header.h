#pragma once
// The header of a .safetensors file, parsed and checked without LibTorch (so it can be fuzzed on its own): an
// 8-byte little-endian length, then JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": ...}.

#include <cstdint>
#include <string>
#include <vector>

namespace ft {

struct SafetensorsEntry {
  std::string name;
  /// "F32", "BF16", ... as written in the file.
  std::string dtype;
  std::vector<std::int64_t> shape;
  /// Byte range in the data section (after the header).
  std::uint64_t begin = 0, end = 0;
};

/// Bytes per element of a safetensors dtype, 0 when the dtype is not supported.
std::size_t safetensors_element_size(const std::string& dtype);

/// Parses `header` (the JSON text) for a data section of `data_size` bytes and checks every entry: a supported
/// dtype, non-negative dimensions whose byte count does not overflow, integer offsets inside the data that match
/// the shape, and no two tensors sharing bytes. Entries come sorted by offset. Throws DataError naming `path`.
std::vector<SafetensorsEntry> parse_safetensors_header(const std::string& header, std::uint64_t data_size,
                                                       const std::string& path);

}  // namespace ft
