#include "model/safetensors_header.h"

#include "log/printable.h"

#include <ftsdk/error.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <map>

namespace ft {

std::size_t safetensors_element_size(const std::string& dtype) {
  static const std::map<std::string, std::size_t> sizes{{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
                                                        {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

std::vector<SafetensorsEntry> parse_safetensors_header(const std::string& header, std::uint64_t data_size,
                                                       const std::string& path) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(header);
  } catch (const std::exception& e) {
    throw DataError(path + ": not a .safetensors file (its header is not JSON: " + std::string(e.what()) + ")");
  }
  if (!json.is_object()) throw DataError(path + ": not a .safetensors file (its header is not a JSON object)");

  std::vector<SafetensorsEntry> entries;
  for (const auto& [name, item] : json.items()) {
    if (name == "__metadata__") continue;
    const std::string where = path + ": tensor " + printable(name);
    if (!item.is_object()) throw DataError(where + ": expected {dtype, shape, data_offsets}");
    SafetensorsEntry entry;
    entry.name = name;
    const auto dtype = item.find("dtype");
    const auto shape = item.find("shape");
    const auto offsets = item.find("data_offsets");
    if (dtype == item.end() || !dtype->is_string() || shape == item.end() || !shape->is_array() ||
        offsets == item.end() || !offsets->is_array() || offsets->size() != 2) {
      throw DataError(where + ": expected {\"dtype\": string, \"shape\": [...], \"data_offsets\": [begin, end]}");
    }
    entry.dtype = dtype->get<std::string>();
    const std::size_t element_size = safetensors_element_size(entry.dtype);
    if (element_size == 0) throw DataError(where + " has the unsupported dtype " + printable(entry.dtype));

    // The byte count is computed with overflow checks: a hostile shape must not wrap around to a small number.
    std::uint64_t bytes = element_size;
    for (const auto& dim : *shape) {
      if (!dim.is_number_integer() || dim.get<std::int64_t>() < 0) {
        throw DataError(where + ": its shape " + printable(shape->dump()) +
                        " has a dimension that is not a "
                        "non-negative integer");
      }
      const auto size = static_cast<std::uint64_t>(dim.get<std::int64_t>());
      if (size != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / size) {
        throw DataError(where + ": its shape " + shape->dump() + " is larger than any file can hold");
      }
      bytes *= size;
      entry.shape.push_back(static_cast<std::int64_t>(size));
    }
    if (!(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      throw DataError(where + ": data_offsets must be two non-negative integers, found " + printable(offsets->dump()));
    }
    entry.begin = (*offsets)[0].get<std::uint64_t>();
    entry.end = (*offsets)[1].get<std::uint64_t>();
    if (entry.end < entry.begin || entry.end - entry.begin != bytes || entry.end > data_size) {
      throw DataError(where + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                      "] do not hold its " + std::to_string(bytes) + " bytes inside the " + std::to_string(data_size) +
                      " bytes of data (file truncated or damaged?)");
    }
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  for (std::size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].begin < entries[i - 1].end) {
      throw DataError(path + ": tensors " + printable(entries[i - 1].name) + " and " + printable(entries[i].name) +
                      " share bytes (overlapping data_offsets): the file is damaged");
    }
  }
  return entries;
}

}  // namespace ft
