#pragma once
// One micro-batch's forward, loss and backward, captured once in a CUDA graph and replayed for every batch of the
// captured shape (`train.cuda_graph = true`): at small image sizes a step is bound by launching hundreds of
// kernels, and a replay launches them all at once. Batches of another shape run eagerly.
//
// What the body computes must not depend on host values that change between steps, since a replay repeats the
// captured kernels with their captured arguments: the loss's scale (1/micro-batches, and fp16's loss scale) is
// therefore a device tensor the body multiplies by, refilled before each replay. Regularizations that draw random
// numbers on the host per batch (mixup's mixing factor) are not supported in a graph.

#include "loop/static_batch.h"

#include <functional>
#include <memory>
#include <utility>

namespace ft {

class GraphedMicroStep {
 public:
  /// `body(batch, scale)` runs forward, loss and `(loss * scale).backward()`, and returns the unscaled loss and the
  /// task's metric sums (Task::metric_sums), both as device tensors.
  using Body = std::function<std::pair<torch::Tensor, torch::Tensor>(Batch&, const torch::Tensor& scale)>;

  /// `warmup`: eager runs before the capture (cuDNN and cuBLAS choose their algorithms and workspaces then).
  explicit GraphedMicroStep(Body body, int warmup = 3);
  ~GraphedMicroStep();

  /// Runs one micro-batch with its loss multiplied by `scale`; returns {loss, metric sums} (device tensors, valid
  /// until the next run).
  std::pair<torch::Tensor, torch::Tensor> run(Batch& batch, double scale);

 private:
  class Graph;
  Body body_;
  int warmup_;
  std::unique_ptr<StaticBatch> static_;
  torch::Tensor scale_;
  std::unique_ptr<Graph> graph_;
  std::pair<torch::Tensor, torch::Tensor> outputs_;
  std::int64_t eager_runs_ = 0;  // warm-up runs count among them
};

}  // namespace ft
