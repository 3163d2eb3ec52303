#include "loop/train_step.h"

#include "distributed/gradient_sync.h"
#include "distributed/process_group.h"
#include "loop/graphed_micro_step.h"
#include "model/training_state.h"

#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

namespace ft {

torch::Tensor clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& parameter : parameters) {
    if (parameter.grad().defined()) grads.push_back(parameter.grad());
  }
  if (grads.empty()) return torch::zeros({}, torch::kFloat32);
  const auto norms = torch::_foreach_norm(grads, 2);
  const auto total = torch::stack(norms).to(torch::kFloat32).norm();
  // As torch.nn.utils.clip_grad_norm_: scale by min(1, max_norm / (norm + 1e-6)), decided on the device.
  const auto coefficient = (max_norm / (total + 1e-6)).clamp_max(1.0);
  torch::_foreach_mul_(grads, coefficient);
  return total;
}

TrainStep::TrainStep(StepSetup setup) : s_(std::move(setup)), scaler_(s_.precision == "fp16") {
  if (s_.cuda_graph) {
    graphed_ = std::make_unique<GraphedMicroStep>(
        [this](Batch& data, const torch::Tensor& scale) { return forward_backward(data, scale); });
  }
  for (auto& parameter : s_.model->parameters()) {
    if (parameter.requires_grad()) trainable_.push_back(parameter);
  }
  scale_ = torch::ones({}, torch::TensorOptions().device(s_.device).dtype(torch::kFloat32));
}

TrainStep::~TrainStep() = default;

std::pair<torch::Tensor, torch::Tensor> TrainStep::forward_backward(Batch& data, const torch::Tensor& scale) {
  for (auto& regularization : s_.regularizations) regularization->transform_batch(data);
  torch::Tensor logits, loss;
  {
    AutocastScope autocast(s_.device.type(), s_.precision);
    logits = s_.model->forward(data, *s_.task);
    loss = s_.task->loss(logits, data);
    for (auto& regularization : s_.regularizations) {
      if (auto replaced = regularization->loss(logits, data, loss)) loss = *replaced;
    }
    for (auto& regularization : s_.regularizations) {
      if (auto penalty = regularization->penalty(*s_.model); penalty.defined()) loss = loss + penalty;
    }
  }
  loss = loss.to(torch::kFloat32);
  (loss * scale).backward();
  torch::NoGradGuard no_grad;
  return {loss.detach(), s_.task->metric_sums(logits.detach(), data).to(torch::kFloat64)};
}

void TrainStep::run(std::int64_t epoch, std::int64_t global_step, std::int64_t micro,
                    const std::function<Batch(std::int64_t)>& batch) {
  // A captured graph accumulates into the gradients' memory: they are zeroed in place, not freed.
  s_.optimizer->zero_grad(/*set_to_none=*/!graphed_);
  // Each micro-batch's loss counts 1/micro (and, in fp16, is scaled up). It is a device scalar, so a captured
  // graph reads each step's value, not the one it was captured with; refilled only when it changes.
  const double scale = scaler_.scale() / static_cast<double>(micro);
  StepRecord record;
  record.epoch = epoch;
  record.global_step = global_step;
  for (std::int64_t i = 0; i < micro; ++i) {
    Batch data = batch(i);
    // Only the last micro-batch's backward averages gradients across processes (DDP's no_sync before it).
    if (s_.sync && i == micro - 1) s_.sync->arm();
    const std::int64_t examples = data.batch_size();
    torch::Tensor loss, sums;
    if (graphed_) {
      std::tie(loss, sums) = graphed_->run(data, scale);
    } else {
      if (scale != scale_value_) scale_.fill_(scale_value_ = scale);
      std::tie(loss, sums) = forward_backward(data, scale_);
    }
    // Kept on the device, read back with the others (read_back): no sync here. A replayed graph reuses its output
    // tensors, so they are copied.
    pending_micro_.push_back({graphed_ ? loss.clone() : loss, graphed_ ? sums.clone() : sums, examples});
  }
  if (s_.sync) s_.sync->finish();
  record_micro_batches_.push_back(micro);

  for (auto& group : s_.optimizer->param_groups()) record.learning_rates.push_back(group.options().get_lr());
  if (scaler_.enabled()) {
    // fp16: a step whose gradients overflowed is skipped and the loss scale halved, as GradScaler does.
    const bool finite = scaler_.unscale_and_check(trainable_);
    scaler_.update(finite);
    record.loss_scale = scaler_.scale();
    record.skipped = !finite;
  }
  if (!record.skipped) {
    if (s_.clip_grad_norm > 0) pending_norms_.push_back(clip_gradients(trainable_, s_.clip_grad_norm).reshape({1}));
    s_.optimizer->step();
  }
  pending_.push_back(std::move(record));
}

ReadBack TrainStep::read_back(ProcessGroup* group, bool stop) {
  // One tensor, one transfer (and one all-reduce): every micro-batch's loss and metric sums, the gradient norms,
  // and the stop flag.
  const auto options = torch::TensorOptions().device(s_.device).dtype(torch::kFloat64);
  const auto micro = static_cast<std::int64_t>(pending_micro_.size());
  const std::int64_t width = micro == 0 ? 0 : pending_micro_.front().sums.numel();
  std::vector<torch::Tensor> parts;
  for (const auto& m : pending_micro_) parts.push_back(m.loss.to(torch::kFloat64).reshape({1}));
  for (const auto& m : pending_micro_) parts.push_back(m.sums.reshape({-1}));
  for (const auto& norm : pending_norms_) parts.push_back(norm.to(torch::kFloat64));
  parts.push_back(torch::full({1}, stop ? 1.0 : 0.0, options));
  auto values = torch::cat(parts);
  const double world = group ? group->world_size() : 1;
  if (group) group->sum(values);  // losses and norms are averaged below, metric sums and the flag summed
  values = values.cpu();
  const double* read = values.data_ptr<double>();

  ReadBack result;
  std::int64_t m = 0, norm = 0;
  for (std::size_t k = 0; k < pending_.size(); ++k) {
    StepRecord& step = pending_[k];
    double loss = 0;
    for (std::int64_t i = 0; i < record_micro_batches_[k]; ++i, ++m) {
      const double micro_loss = read[m] / world;
      const double* sums = read + micro + m * width;
      loss += micro_loss / static_cast<double>(record_micro_batches_[k]);
      // The loss is a mean over the micro-batch's weight (its examples, or the tokens it scores).
      epoch_.loss_sum += micro_loss * sums[0];
      if (epoch_.sums.empty()) epoch_.sums.assign(static_cast<std::size_t>(width), 0.0);
      for (std::int64_t j = 0; j < width; ++j) epoch_.sums[static_cast<std::size_t>(j)] += sums[j];
      epoch_.examples += static_cast<double>(pending_micro_[m].examples) * world;
    }
    step.loss = loss;
    if (!step.skipped && s_.clip_grad_norm > 0) step.grad_norm = read[micro * (1 + width) + norm++] / world;
  }
  result.stop = read[values.numel() - 1] > 0;
  result.steps = std::move(pending_);
  pending_.clear();
  pending_micro_.clear();
  pending_norms_.clear();
  record_micro_batches_.clear();
  return result;
}

EpochTotals TrainStep::take_epoch_totals() {
  const EpochTotals totals = epoch_;
  epoch_ = {};
  return totals;
}

void TrainStep::save(TensorMap& checkpoint) const {
  put_state_tensor(checkpoint, "optimizer", save_optimizer(*s_.optimizer));
  const auto [scale, good_steps] = scaler_.state();
  put_state(checkpoint, "loss_scale", {scale, static_cast<double>(good_steps)});
}

void TrainStep::load(const TensorMap& checkpoint) {
  load_optimizer(*s_.optimizer, require_state_tensor(checkpoint, "optimizer"));
  const auto scale = require_state(checkpoint, "loss_scale");
  scaler_.restore({scale.at(0), static_cast<std::int64_t>(scale.at(1))});
}

}  // namespace ft
