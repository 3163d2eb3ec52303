#include "model/checkpoint.h"

#include "model/safetensors.h"

#include <ftsdk/error.h>
#include <ftsdk/files.h>

#include <torch/serialize.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace fs = std::filesystem;

namespace ft {

void save_tensors(const TensorMap& tensors, const std::string& path) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : tensors) dict.insert(name, tensor.detach().to(torch::kCPU));
  const std::vector<char> bytes = torch::pickle_save(dict);

  std::error_code error;
  fs::create_directories(fs::path(path).parent_path(), error);
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      // Checkpoints live in the store's folder: a full or read-only disk there is the store's problem (exit code 5).
      throw StoreError("cannot write checkpoint " + temporary + " (disk full or folder not writable?)");
    }
  }
  fs::rename(temporary, path, error);
  if (error) {
    std::remove(temporary.c_str());
    throw StoreError("cannot move checkpoint into place at " + path + ": " + error.message());
  }
}

TensorMap load_tensors(const std::string& path) {
  if (fs::path(path).extension() == ".safetensors") return load_safetensors(path);
  check_regular_file(path, "weights file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("weights file " + path + " not found or not readable");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    throw DataError("weights file " + path +
                    " is not an ftrun checkpoint (a pickled dict of tensors): " + std::string(e.what()).substr(0, 300));
  }
  if (!value.isGenericDict()) {
    throw DataError("weights file " + path + " holds a " + value.tagKind() +
                    ", expected a dict of name → tensor (in Python: torch.save(dict(model.state_dict()), path))");
  }
  TensorMap tensors;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor()) {
      throw DataError("weights file " + path + ": expected string keys and tensor values");
    }
    tensors[entry.key().toStringRef()] = entry.value().toTensor();
  }
  return tensors;
}

}  // namespace ft
