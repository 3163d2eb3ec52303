#include "loop/evaluation.h"

#include "data/prefetcher.h"
#include "data/sharding.h"
#include "distributed/process_group.h"
#include "runner/precision.h"

#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

namespace ft {

EvalResult evaluate(Classifier& model, const BatchSource& source, const EvaluationSetup& setup, ProcessGroup* group) {
  torch::NoGradGuard no_grad;
  model.set_training(false);
  const auto [first, last] = evaluation_range(source.size(), group ? group->shard() : Shard{});
  const auto device = model.parameters().empty() ? c10::Device(c10::kCPU) : model.parameters().front().device();
  auto sums = torch::zeros({3}, torch::TensorOptions().device(device).dtype(torch::kFloat64));
  // In order; the loader threads decode ahead for splits that are not held in memory, as in training.
  Prefetcher prefetcher(source, torch::arange(first, last, torch::kLong), setup.batch_size, setup.loader_threads);
  for (std::int64_t step = 0; step < prefetcher.batches(); ++step) {
    const Batch data = prefetcher.next(step);
    torch::Tensor logits;
    {
      AutocastScope autocast(device.type(), setup.precision);
      logits = model.forward(data.inputs).to(torch::kFloat32);
    }
    const auto loss = torch::nn::functional::cross_entropy(
        logits, data.targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    sums[0] += loss.to(torch::kFloat64);
    sums[1] += logits.argmax(1).eq(data.targets).sum().to(torch::kFloat64);
  }
  sums[2] = static_cast<double>(last - first);
  if (group) group->sum(sums);
  sums = sums.cpu();
  model.set_training(true);
  const double examples = sums[2].item<double>();
  if (examples == 0) return {};
  return {sums[0].item<double>() / examples, sums[1].item<double>() / examples, static_cast<std::int64_t>(examples)};
}

}  // namespace ft
