#pragma once
// Reader for .safetensors files (Hugging Face's format, what timm and the Hub ship): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw tensor bytes.

#include "model/checkpoint.h"

#include <string>

namespace ft {

/// Reads every tensor of a .safetensors file. Throws DataError naming the file and what is wrong with it.
TensorMap load_safetensors(const std::string& path);

}  // namespace ft
