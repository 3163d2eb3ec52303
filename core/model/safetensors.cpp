#include "model/safetensors.h"

#include "log/printable.h"
#include "model/safetensors_header.h"

#include <ftsdk/error.h>
#include <ftsdk/files.h>

#include <torch/torch.h>

#include <fstream>
#include <map>

namespace ft {
namespace {

torch::ScalarType scalar_type(const std::string& dtype) {
  static const std::map<std::string, torch::ScalarType> types{
      {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
      {"I64", torch::kInt64},   {"I32", torch::kInt32},   {"I16", torch::kInt16},   {"I8", torch::kInt8},
      {"U8", torch::kUInt8},    {"BOOL", torch::kBool}};
  return types.at(dtype);  // parse_safetensors_header has checked it
}

}  // namespace

TensorMap load_safetensors(const std::string& path) {
  check_regular_file(path, "weights file");
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
  const std::uint64_t data_start = 8 + header_size;

  TensorMap tensors;
  for (const auto& entry : parse_safetensors_header(header, file_size - data_start, path)) {
    auto tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(scalar_type(entry.dtype)));
    in.seekg(static_cast<std::streamoff>(data_start + entry.begin));
    if (!in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(entry.end - entry.begin))) {
      throw DataError(path + ": cannot read tensor " + printable(entry.name) + " (file truncated?)");
    }
    tensors[entry.name] = tensor;
  }
  return tensors;
}

}  // namespace ft
