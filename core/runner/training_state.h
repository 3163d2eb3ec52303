#pragma once
// Everything besides the weights that a run needs to continue exactly where its last checkpoint left it:
// position, random generators, optimizer state, schedule, early-stopping and loss-scale state. Stored in the
// same file as the weights (one atomic write), under "__ftrun__/" names.

#include "runner/checkpoint.h"

#include <ATen/core/Generator.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <optional>
#include <utility>

namespace ft {

struct TrainingState {
  std::int64_t epoch = 0;         // epochs completed
  std::int64_t global_step = 0;   // optimizer steps taken
  torch::Tensor data_generator;   // state of the generator that orders and augments the data
  torch::Tensor torch_generator;  // state of LibTorch's default CPU generator (dropout, initialisation)
  torch::Tensor optimizer;        // the optimizer's own archive, as bytes
  std::pair<double, std::int64_t> schedule{1.0, 0};
  std::pair<double, std::int64_t> loss_scale{65536.0, 0};
  std::optional<double> best;
  std::int64_t evaluations_without_improvement = 0;
};

/// Adds `state` to `tensors` under "__ftrun__/..." names.
void store_training_state(const TrainingState& state, TensorMap& tensors);

/// The training state in a checkpoint, or nothing when it holds only weights.
std::optional<TrainingState> find_training_state(const TensorMap& tensors);

/// The optimizer's state as bytes, and back.
torch::Tensor save_optimizer(torch::optim::Optimizer& optimizer);
void load_optimizer(torch::optim::Optimizer& optimizer, const torch::Tensor& bytes);

/// True for the "__ftrun__/" entries, which are not weights.
bool is_training_state_name(const std::string& name);

}  // namespace ft
