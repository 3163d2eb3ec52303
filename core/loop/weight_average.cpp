#include "loop/weight_average.h"

#include <ftsdk/error.h>

#include <torch/torch.h>

#include <cmath>

namespace ft {
namespace {

const std::string kPrefix = "__ftrun__/weight_average/";

}  // namespace

WeightAverage::WeightAverage(Classifier& model, double decay, bool warmup) : decay_(decay), warmup_(warmup) {
  torch::NoGradGuard no_grad;
  auto add = [&](const std::string& name, const torch::Tensor& tensor) {
    names_.push_back(name);
    if (tensor.is_floating_point()) {
      live_.push_back(tensor);
      averaged_.push_back(tensor.detach().clone());
    } else {
      live_exact_.push_back(tensor);
      averaged_exact_.push_back(tensor.detach().clone());
    }
  };
  // Floating tensors first, then integers, each in the model's order: names_ follows the same order.
  for (const auto& item : model.named_parameters()) {
    if (item.value().is_floating_point()) add(item.key(), item.value());
  }
  for (const auto& item : model.named_buffers()) {
    if (item.value().is_floating_point()) add(item.key(), item.value());
  }
  for (const auto& item : model.named_buffers()) {
    if (!item.value().is_floating_point()) add(item.key(), item.value());
  }
}

double WeightAverage::decay_at(std::int64_t step) const {
  if (!warmup_) return decay_;
  return std::min(decay_, 1.0 - std::pow(1.0 + static_cast<double>(step), -2.0 / 3.0));
}

void WeightAverage::update(std::int64_t step) {
  torch::NoGradGuard no_grad;
  const double weight = 1.0 - decay_at(step);
  std::vector<torch::Tensor> live;
  live.reserve(live_.size());
  for (const auto& tensor : live_) live.push_back(tensor.detach());
  torch::_foreach_lerp_(averaged_, live, weight);
  for (std::size_t i = 0; i < live_exact_.size(); ++i) averaged_exact_[i].copy_(live_exact_[i]);
}

void WeightAverage::swap() {
  torch::NoGradGuard no_grad;
  auto exchange = [](std::vector<torch::Tensor>& live, std::vector<torch::Tensor>& other) {
    for (std::size_t i = 0; i < live.size(); ++i) {
      const auto kept = live[i].detach().clone();
      live[i].detach().copy_(other[i]);
      other[i].copy_(kept);
    }
  };
  exchange(live_, averaged_);
  exchange(live_exact_, averaged_exact_);
}

void WeightAverage::save(TensorMap& checkpoint) const {
  std::size_t i = 0;
  for (const auto& tensor : averaged_) checkpoint[kPrefix + names_[i++]] = tensor.detach().cpu();
  for (const auto& tensor : averaged_exact_) checkpoint[kPrefix + names_[i++]] = tensor.detach().cpu();
}

void WeightAverage::load(const TensorMap& checkpoint) {
  torch::NoGradGuard no_grad;
  std::size_t i = 0;
  auto restore = [&](std::vector<torch::Tensor>& targets) {
    for (auto& target : targets) {
      const auto found = checkpoint.find(kPrefix + names_[i++]);
      if (found == checkpoint.end()) {
        throw Error("the checkpoint has no weight average for " + names_[i - 1] +
                    " (it was written without train.ema_decay; resume with the settings it was trained with)");
      }
      target.copy_(found->second);
    }
  };
  restore(averaged_);
  restore(averaged_exact_);
}

}  // namespace ft
