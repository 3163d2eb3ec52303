#include "loop/graphed_micro_step.h"

#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>

namespace ft {

class GraphedMicroStep::Graph {
 public:
  at::cuda::CUDAGraph graph;
};

GraphedMicroStep::GraphedMicroStep(Body body, int warmup) : body_(std::move(body)), warmup_(warmup) {}

GraphedMicroStep::~GraphedMicroStep() = default;

std::pair<torch::Tensor, torch::Tensor> GraphedMicroStep::run(Batch& batch, double scale) {
  if (!static_) {
    static_ = std::make_unique<StaticBatch>(batch);
    scale_ = torch::ones({}, batch.at(tensor_names::kTargets).options().dtype(torch::kFloat32));
  }
  const bool graphable = batch.at(tensor_names::kTargets).is_cuda() && static_->fits(batch);
  if (!graphable || eager_runs_ < warmup_) {
    ++eager_runs_;
    scale_.fill_(scale);
    return body_(batch, scale_);
  }
  static_->load(batch);
  scale_.fill_(scale);
  if (!graph_) {
    // Captured on a side stream that first waits for the current one, as torch.cuda.graph does; autocast's cache
    // of casted weights would hold tensors from outside the graph's memory pool, so it is off while capturing.
    graph_ = std::make_unique<Graph>();
    const auto current = c10::cuda::getCurrentCUDAStream();
    auto side = c10::cuda::getStreamFromPool();
    at::cuda::CUDAEvent ready;
    ready.record(current);
    ready.block(side);
    {
      c10::cuda::CUDAStreamGuard guard(side);
      const bool cache = at::autocast::is_autocast_cache_enabled();
      at::autocast::set_autocast_cache_enabled(false);
      graph_->graph.capture_begin();
      outputs_ = body_(static_->batch(), scale_);
      graph_->graph.capture_end();
      at::autocast::set_autocast_cache_enabled(cache);
    }
    at::cuda::CUDAEvent captured;
    captured.record(side);
    captured.block(current);
  }
  // Capturing records the kernels without running them: the first batch is computed by the first replay too.
  graph_->graph.replay();
  return outputs_;
}

}  // namespace ft
