#include "runner/training_state.h"

#include <ftsdk/error.h>

#include <torch/serialize.h>
#include <torch/torch.h>

#include <sstream>

namespace ft {
namespace {

constexpr const char* kPrefix = "__ftrun__/";

torch::Tensor scalar(double value) { return torch::tensor({value}, torch::kFloat64); }
torch::Tensor integer(std::int64_t value) { return torch::tensor({value}, torch::kInt64); }

}  // namespace

bool is_training_state_name(const std::string& name) { return name.rfind(kPrefix, 0) == 0; }

void store_training_state(const TrainingState& state, TensorMap& tensors) {
  const std::string p = kPrefix;
  tensors[p + "epoch"] = integer(state.epoch);
  tensors[p + "global_step"] = integer(state.global_step);
  tensors[p + "data_generator"] = state.data_generator;
  tensors[p + "torch_generator"] = state.torch_generator;
  tensors[p + "optimizer"] = state.optimizer;
  tensors[p + "schedule"] =
      torch::tensor({state.schedule.first, static_cast<double>(state.schedule.second)}, torch::kFloat64);
  tensors[p + "loss_scale"] =
      torch::tensor({state.loss_scale.first, static_cast<double>(state.loss_scale.second)}, torch::kFloat64);
  if (state.best) tensors[p + "best"] = scalar(*state.best);
  tensors[p + "evaluations_without_improvement"] = integer(state.evaluations_without_improvement);
}

std::optional<TrainingState> find_training_state(const TensorMap& tensors) {
  const std::string p = kPrefix;
  auto get = [&](const std::string& name) -> const torch::Tensor& {
    auto it = tensors.find(p + name);
    if (it == tensors.end()) throw DataError("checkpoint lacks " + p + name + " (written by another ftrun version?)");
    return it->second;
  };
  if (!tensors.count(p + "epoch")) return std::nullopt;
  TrainingState state;
  state.epoch = get("epoch").item<std::int64_t>();
  state.global_step = get("global_step").item<std::int64_t>();
  state.data_generator = get("data_generator");
  state.torch_generator = get("torch_generator");
  state.optimizer = get("optimizer");
  const auto schedule = get("schedule");
  state.schedule = {schedule[0].item<double>(), static_cast<std::int64_t>(schedule[1].item<double>())};
  const auto loss_scale = get("loss_scale");
  state.loss_scale = {loss_scale[0].item<double>(), static_cast<std::int64_t>(loss_scale[1].item<double>())};
  if (auto it = tensors.find(p + "best"); it != tensors.end()) state.best = it->second.item<double>();
  state.evaluations_without_improvement = get("evaluations_without_improvement").item<std::int64_t>();
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
