#pragma once
// ftrun checkpoints: a dict of name → tensor written with torch::pickle_save, so Python's torch.load reads
// them too. Written atomically (temporary file, then rename): a crash leaves the previous file intact.

#include <torch/types.h>

#include <map>
#include <string>

namespace ft {

using TensorMap = std::map<std::string, torch::Tensor>;

/// Writes `tensors` (moved to the CPU) to `path` atomically, creating the folder. Throws DataError.
void save_tensors(const TensorMap& tensors, const std::string& path);

/// Reads a file written by save_tensors (or Python's `torch.save(dict(state_dict))`), or a `.safetensors` file.
/// Throws DataError.
TensorMap load_tensors(const std::string& path);

}  // namespace ft
