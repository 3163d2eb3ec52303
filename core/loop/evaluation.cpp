#include "loop/evaluation.h"

#include "data/prefetcher.h"
#include "data/sharding.h"
#include "distributed/process_group.h"
#include "model/precision.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

namespace ft {
namespace {
constexpr std::uint64_t kEvaluationSeed = 0x5eed'e7a1;
}  // namespace

EvalResult evaluate(Classifier& model, const BatchSource& source, const EvaluationSetup& setup, ProcessGroup* group) {
  torch::NoGradGuard no_grad;
  model.set_training(false);
  const Task& task = *setup.task;
  const auto metrics = task.metrics();
  const auto [first, last] = evaluation_range(source.size(), group ? group->shard() : Shard{});
  const auto device = model.parameters().empty() ? c10::Device(c10::kCPU) : model.parameters().front().device();
  // The summed loss (each batch's mean loss times its weight), then the task's sums (weight first), then the
  // examples: one read-back, one all-reduce.
  const auto width = static_cast<std::int64_t>(metrics.size()) + 1;
  auto sums = torch::zeros({width + 2}, torch::TensorOptions().device(device).dtype(torch::kFloat64));
  // Every evaluation draws the same (a task that masks tokens masks the same ones each time), so that epochs and
  // runs compare on equal terms.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(kEvaluationSeed);
  // In order; the loader threads decode ahead for splits that are not held in memory, as in training.
  Prefetcher prefetcher(source, torch::arange(first, last, torch::kLong), setup.batch_size, setup.loader_threads);
  for (std::int64_t step = 0; step < prefetcher.batches(); ++step) {
    Batch data = prefetcher.next(step);
    task.prepare(data, generator);
    torch::Tensor outputs;
    {
      AutocastScope autocast(device.type(), setup.precision);
      outputs = model.forward(data, task).to(torch::kFloat32);
    }
    const auto batch_sums = task.metric_sums(outputs, data).to(torch::kFloat64);
    sums[0] += task.loss(outputs, data).to(torch::kFloat64) * batch_sums[0];
    sums.slice(0, 1, width + 1) += batch_sums;
  }
  sums[width + 1] = static_cast<double>(last - first);
  if (group) group->sum(sums);
  sums = sums.cpu();
  model.set_training(true);
  const double* read = sums.data_ptr<double>();
  EvalResult result;
  result.examples = static_cast<std::int64_t>(read[width + 1]);
  if (result.examples == 0 || read[1] == 0) return result;
  result.loss = read[0] / read[1];
  const auto values = task.metric_values(std::vector<double>(read + 1, read + width + 1), result.loss);
  for (std::size_t i = 0; i < metrics.size() && i < values.size(); ++i)
    result.metrics.emplace_back(metrics[i].name, values[i]);
  return result;
}

}  // namespace ft
