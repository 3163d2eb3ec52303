#include "model/training_state.h"

#include <ftsdk/error.h>

#include <torch/serialize.h>
#include <torch/torch.h>

#include <sstream>

namespace ft {
namespace {

constexpr const char* kPrefix = "__ftrun__/";

}  // namespace

bool is_training_state_name(const std::string& name) { return name.rfind(kPrefix, 0) == 0; }

void put_state(TensorMap& tensors, const std::string& name, const std::vector<double>& values) {
  tensors[kPrefix + name] = torch::tensor(values, torch::kFloat64);
}

std::optional<std::vector<double>> find_state(const TensorMap& tensors, const std::string& name) {
  auto it = tensors.find(kPrefix + name);
  if (it == tensors.end()) return std::nullopt;
  const auto values = it->second.to(torch::kFloat64).contiguous();
  return std::vector<double>(values.data_ptr<double>(), values.data_ptr<double>() + values.numel());
}

std::vector<double> require_state(const TensorMap& tensors, const std::string& name) {
  auto values = find_state(tensors, name);
  if (!values)
    throw DataError(std::string("checkpoint lacks ") + kPrefix + name + " (written by another ftrun version?)");
  return *values;
}

void put_state_tensor(TensorMap& tensors, const std::string& name, const torch::Tensor& tensor) {
  tensors[kPrefix + name] = tensor;
}

const torch::Tensor& require_state_tensor(const TensorMap& tensors, const std::string& name) {
  auto it = tensors.find(kPrefix + name);
  if (it == tensors.end()) {
    throw DataError(std::string("checkpoint lacks ") + kPrefix + name + " (written by another ftrun version?)");
  }
  return it->second;
}

std::optional<TrainingState> find_training_state(const TensorMap& tensors) {
  const auto epoch = find_state(tensors, "epoch");
  if (!epoch) return std::nullopt;
  TrainingState state;
  state.epoch = static_cast<std::int64_t>(epoch->at(0));
  state.global_step = static_cast<std::int64_t>(require_state(tensors, "global_step").at(0));
  for (const auto& [name, tensor] : tensors) {
    if (is_training_state_name(name)) state.tensors[name] = tensor;
  }
  return state;
}

torch::Tensor save_optimizer(torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  const std::string data = bytes.str();
  return torch::from_blob(const_cast<char*>(data.data()), {static_cast<std::int64_t>(data.size())}, torch::kUInt8)
      .clone();
}

void load_optimizer(torch::optim::Optimizer& optimizer, const torch::Tensor& bytes) {
  torch::serialize::InputArchive archive;
  const auto contiguous = bytes.contiguous();
  archive.load_from(reinterpret_cast<const char*>(contiguous.data_ptr<std::uint8_t>()),
                    static_cast<std::size_t>(contiguous.numel()));
  optimizer.load(archive);
}

}  // namespace ft
