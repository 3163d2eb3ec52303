#include "runner/safetensors.h"

#include <ftsdk/error.h>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

namespace ft {
namespace {

torch::ScalarType scalar_type(const std::string& dtype, const std::string& path, const std::string& name) {
  static const std::map<std::string, torch::ScalarType> types{
      {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
      {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
      {"U8", torch::kUInt8},    {"BOOL", torch::kBool}};
  auto it = types.find(dtype);
  if (it == types.end()) throw DataError(path + ": tensor " + name + " has the unsupported dtype " + dtype);
  return it->second;
}

}  // namespace

TensorMap load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw DataError("weights file " + path + " not found or not readable");
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  unsigned char length_bytes[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(length_bytes), 8)) {
    throw DataError(path + ": too short to be a .safetensors file");
  }
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length_bytes[i];
  if (header_size > file_size - 8 || header_size > (100u << 20)) {
    throw DataError(path + ": not a .safetensors file (its header length " + std::to_string(header_size) +
                    " does not fit in its " + std::to_string(file_size) + " bytes)");
  }
  std::string header(header_size, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_size));
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(header);
  } catch (const std::exception& e) {
    throw DataError(path + ": not a .safetensors file (its header is not JSON: " + std::string(e.what()) + ")");
  }
  const std::uint64_t data_start = 8 + header_size;
  const std::uint64_t data_size = file_size - data_start;

  TensorMap tensors;
  for (const auto& [name, entry] : json.items()) {
    if (name == "__metadata__") continue;
    try {
      const auto dtype = scalar_type(entry.at("dtype").get<std::string>(), path, name);
      const auto shape = entry.at("shape").get<std::vector<std::int64_t>>();
      const auto offsets = entry.at("data_offsets").get<std::vector<std::uint64_t>>();
      std::int64_t count = 1;
      for (const auto dim : shape) count *= dim;
      const std::uint64_t bytes = static_cast<std::uint64_t>(count) * c10::elementSize(dtype);
      if (offsets.size() != 2 || offsets[1] < offsets[0] || offsets[1] - offsets[0] != bytes ||
          offsets[1] > data_size) {
        throw DataError(path + ": tensor " + name + " has inconsistent offsets (file truncated or damaged?)");
      }
      auto tensor = torch::empty(shape, torch::TensorOptions().dtype(dtype));
      in.seekg(static_cast<std::streamoff>(data_start + offsets[0]));
      if (!in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(bytes))) {
        throw DataError(path + ": cannot read tensor " + name + " (file truncated?)");
      }
      tensors[name] = tensor;
    } catch (const nlohmann::json::exception& e) {
      throw DataError(path + ": malformed header entry for " + name + ": " + e.what());
    }
  }
  return tensors;
}

}  // namespace ft
