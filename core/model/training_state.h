#pragma once
// Everything besides the weights that a run needs to continue exactly where its last checkpoint left it, stored
// in the same file as the weights (one atomic write) under "__ftrun__/" names. The loop writes its position
// (epoch, step); the step object its optimizer and loss scale; each callback its own part (loop/callback.h).

#include "model/checkpoint.h"

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ft {

struct TrainingState {
  std::int64_t epoch = 0;        // epochs completed
  std::int64_t global_step = 0;  // optimizer steps taken
  TensorMap tensors;             // the checkpoint's "__ftrun__/" entries, for each part to read its own
};

/// Writes `values` as "__ftrun__/<name>" (float64).
void put_state(TensorMap& tensors, const std::string& name, const std::vector<double>& values);
/// The values under "__ftrun__/<name>", or nothing when absent.
std::optional<std::vector<double>> find_state(const TensorMap& tensors, const std::string& name);
/// Same, but absent is an error naming the entry (a checkpoint from another ftrun version).
std::vector<double> require_state(const TensorMap& tensors, const std::string& name);
/// The tensor under "__ftrun__/<name>" as it is (optimizer bytes).
void put_state_tensor(TensorMap& tensors, const std::string& name, const torch::Tensor& tensor);
const torch::Tensor& require_state_tensor(const TensorMap& tensors, const std::string& name);

/// The training state in a checkpoint, or nothing when it holds only weights.
std::optional<TrainingState> find_training_state(const TensorMap& tensors);

/// The optimizer's state as bytes, and back.
torch::Tensor save_optimizer(torch::optim::Optimizer& optimizer);
void load_optimizer(torch::optim::Optimizer& optimizer, const torch::Tensor& bytes);

/// True for the "__ftrun__/" entries, which are not weights.
bool is_training_state_name(const std::string& name);

}  // namespace ft
