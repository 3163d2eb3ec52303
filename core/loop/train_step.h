#pragma once
// One optimizer step: forward, the task's loss (with the regularizations' replacements and penalties), backward
// with loss scaling, the gradients' all-reduce across processes, unscaling, clipping and the optimizer's step.
// Nothing in a step waits for the device: the loss, the task's metric sums and the gradient norm stay there, and
// are read back in batches by read_back() (one transfer for many steps). The one exception is fp16, whose overflow
// check decides on the host whether to skip the step, as GradScaler does: one fused check, one sync per step.

#include "loop/callback.h"
#include "model/model.h"
#include "model/precision.h"

#include <ftsdk/regularization.h>
#include <ftsdk/task.h>

#include <c10/core/Device.h>
#include <torch/optim/optimizer.h>

#include <functional>
#include <memory>
#include <vector>

namespace ft {

class GradientSync;
class GraphedMicroStep;
class ProcessGroup;

struct StepSetup {
  Classifier* model = nullptr;
  /// The loss and the metrics (the batches come with their targets formed: Task::prepare).
  const Task* task = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;
  std::vector<std::shared_ptr<Regularization>> regularizations;
  c10::Device device = c10::Device(c10::kCPU);
  std::string precision = "fp32";
  double clip_grad_norm = 0;
  /// Averages gradients across processes; nullptr for a single process.
  GradientSync* sync = nullptr;
  /// Replay each micro-batch's forward and backward from a captured CUDA graph (loop/graphed_micro_step.h).
  bool cuda_graph = false;
};

/// What read_back() returns: the steps since the last read-back, and whether any process asked to stop.
struct ReadBack {
  std::vector<StepRecord> steps;
  bool stop = false;
};

/// An epoch's totals over all processes.
struct EpochTotals {
  /// Each micro-batch's loss times its weight, added up.
  double loss_sum = 0;
  /// The task's metric sums (Task::metric_sums), added up: the weight first.
  std::vector<double> sums;
  double examples = 0;
};

class TrainStep {
 public:
  explicit TrainStep(StepSetup setup);
  ~TrainStep();

  /// One optimizer step over `micro` micro-batches, `batch(i)` giving the i-th; each micro-batch's loss counts
  /// 1/micro so the summed gradients equal those of one large batch.
  void run(std::int64_t epoch, std::int64_t global_step, std::int64_t micro,
           const std::function<Batch(std::int64_t)>& batch);

  /// The steps taken since the last call, read back in one transfer (averaged over processes with `group`,
  /// which every process must call at the same step). `stop` is this process's wish to stop; the result says
  /// whether any process had it.
  ReadBack read_back(ProcessGroup* group, bool stop);

  /// The loss sum, metric sums and examples of the steps read back since the last call (over all processes);
  /// resets them. The loop reads back at each epoch's last step, so these are the epoch's.
  EpochTotals take_epoch_totals();

  /// Optimizer and loss-scale state, for checkpoints.
  void save(TensorMap& checkpoint) const;
  void load(const TensorMap& checkpoint);

 private:
  /// Forward, loss and `(loss * scale).backward()` of one micro-batch; returns the unscaled loss and the task's
  /// metric sums, as device tensors.
  std::pair<torch::Tensor, torch::Tensor> forward_backward(Batch& data, const torch::Tensor& scale);

  StepSetup s_;
  std::unique_ptr<GraphedMicroStep> graphed_;
  torch::Tensor scale_;
  LossScaler scaler_;
  std::vector<torch::Tensor> trainable_;
  // Steps not yet read back: their records, each micro-batch's device-side loss and metric sums, the gradient
  // norms of clipped steps, and how many micro-batches each step had.
  struct MicroBatch {
    torch::Tensor loss, sums;
    std::int64_t examples = 0;
  };
  std::vector<StepRecord> pending_;
  std::vector<MicroBatch> pending_micro_;
  std::vector<torch::Tensor> pending_norms_;
  std::vector<std::int64_t> record_micro_batches_;
  EpochTotals epoch_;
  double scale_value_ = 1.0;
};

/// Clips the global L2 norm of `parameters`' gradients to `max_norm` on the device (no host sync, unlike
/// LibTorch's clip_grad_norm_, which returns a double) and returns the norm before clipping.
torch::Tensor clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm);

}  // namespace ft
