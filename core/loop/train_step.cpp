#include "loop/train_step.h"

#include "distributed/gradient_sync.h"
#include "distributed/process_group.h"
#include "runner/training_state.h"

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
  for (auto& parameter : s_.model->parameters()) {
    if (parameter.requires_grad()) trainable_.push_back(parameter);
  }
  const auto options = torch::TensorOptions().device(s_.device);
  loss_sum_ = torch::zeros({}, options.dtype(torch::kFloat64));
  correct_ = torch::zeros({}, options.dtype(torch::kInt64));
}

void TrainStep::run(std::int64_t epoch, std::int64_t global_step, std::int64_t micro,
                    const std::function<Batch(std::int64_t)>& batch) {
  s_.optimizer->zero_grad();
  torch::Tensor step_loss = torch::zeros({}, torch::TensorOptions().device(s_.device));
  for (std::int64_t i = 0; i < micro; ++i) {
    Batch data = batch(i);
    const auto labels = data.targets;
    const auto n = labels.size(0);
    for (auto& regularization : s_.regularizations) regularization->transform_batch(data);
    torch::Tensor logits, loss;
    {
      AutocastScope autocast(s_.device.type(), s_.precision);
      logits = s_.model->forward(data.inputs);
      loss = torch::nn::functional::cross_entropy(logits, data.targets);
      for (auto& regularization : s_.regularizations) {
        if (auto replaced = regularization->loss(logits, data, loss)) loss = *replaced;
      }
      for (auto& regularization : s_.regularizations) {
        if (auto penalty = regularization->penalty(*s_.model); penalty.defined()) loss = loss + penalty;
      }
    }
    loss = loss.to(torch::kFloat32);
    // Only the last micro-batch's backward averages gradients across processes (DDP's no_sync before it).
    if (s_.sync && i == micro - 1) s_.sync->arm();
    (loss * (scaler_.scale() / static_cast<double>(micro))).backward();
    torch::NoGradGuard no_grad;
    const auto detached = loss.detach();
    step_loss += detached / static_cast<double>(micro);
    loss_sum_ += detached.to(torch::kFloat64) * static_cast<double>(n);
    correct_ += logits.detach().argmax(1).eq(labels).sum();
    examples_ += n;
  }
  if (s_.sync) s_.sync->finish();

  StepRecord record;
  record.epoch = epoch;
  record.global_step = global_step;
  for (auto& group : s_.optimizer->param_groups()) record.learning_rates.push_back(group.options().get_lr());
  if (scaler_.enabled()) {
    // fp16: a step whose gradients overflowed is skipped and the loss scale halved, as GradScaler does.
    const bool finite = scaler_.unscale_and_check(trainable_);
    scaler_.update(finite);
    record.loss_scale = scaler_.scale();
    record.skipped = !finite;
  }
  torch::Tensor norm;
  if (!record.skipped) {
    if (s_.clip_grad_norm > 0) norm = clip_gradients(trainable_, s_.clip_grad_norm);
    s_.optimizer->step();
  }
  pending_.push_back(std::move(record));
  pending_losses_.push_back(step_loss.to(torch::kFloat64));
  pending_norms_.push_back(norm.defined() ? norm.to(torch::kFloat64).reshape({})
                                          : torch::full({}, std::nan(""), pending_losses_.back().options()));
}

ReadBack TrainStep::read_back(ProcessGroup* group, bool stop) {
  ReadBack result;
  const auto options = torch::TensorOptions().device(s_.device).dtype(torch::kFloat64);
  std::vector<torch::Tensor> parts = pending_losses_;
  parts.insert(parts.end(), pending_norms_.begin(), pending_norms_.end());
  parts.push_back(torch::full({}, stop ? 1.0 : 0.0, options));
  auto values = torch::stack(parts);
  if (group) {
    group->sum(values);
    values.slice(0, 0, values.size(0) - 1).div_(group->world_size());
  }
  values = values.cpu();
  const double* read = values.data_ptr<double>();
  const std::size_t count = pending_.size();
  for (std::size_t k = 0; k < count; ++k) {
    pending_[k].loss = read[k];
    if (!std::isnan(read[count + k])) pending_[k].grad_norm = read[count + k];
  }
  result.stop = read[2 * count] > 0;
  result.steps = std::move(pending_);
  pending_.clear();
  pending_losses_.clear();
  pending_norms_.clear();
  return result;
}

EpochTotals TrainStep::take_epoch_totals(ProcessGroup* group) {
  auto totals = torch::stack(
      {loss_sum_, correct_.to(torch::kFloat64), torch::full({}, static_cast<double>(examples_), loss_sum_.options())});
  if (group) group->sum(totals);
  totals = totals.cpu();
  loss_sum_.zero_();
  correct_.zero_();
  examples_ = 0;
  return {totals[0].item<double>(), totals[1].item<double>(), totals[2].item<double>()};
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
