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

// Every process's rows of `table` on every process, in rank order, through the one collective the group has (a
// sum): each process writes its rows at its own offset of a zero table as long as all of them together.
torch::Tensor gather_rows(const torch::Tensor& table, ProcessGroup& group, c10::Device device) {
  const auto float64 = torch::TensorOptions().dtype(torch::kFloat64).device(device);
  auto counts = torch::zeros({group.world_size()}, float64);
  counts[group.rank()] = static_cast<double>(table.size(0));
  group.sum(counts);
  const auto rows = counts.cpu().to(torch::kLong);
  const auto before = rows.slice(0, 0, group.rank()).sum().item<std::int64_t>();
  auto all = torch::zeros({rows.sum().item<std::int64_t>(), table.size(1)}, float64);
  all.slice(0, before, before + table.size(0)).copy_(table);
  group.sum(all);
  return all.cpu();
}

// The tables' widths on every process: a process without a batch (a split smaller than the processes) keeps none,
// and takes empty tables of the widths another process found, so that all of them meet in the same collectives.
void agree_on_tables(std::vector<torch::Tensor>& tables, ProcessGroup& group, c10::Device device) {
  constexpr std::int64_t kMostTables = 16;
  if (tables.size() > kMostTables) {
    throw PluginError("the task keeps " + std::to_string(tables.size()) + " evaluation tables; at most " +
                      std::to_string(kMostTables) + " are gathered across processes");
  }
  auto widths =
      torch::zeros({group.world_size(), kMostTables + 1}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  widths[group.rank()][0] = static_cast<double>(tables.size());
  for (std::size_t i = 0; i < tables.size() && i < kMostTables; ++i)
    widths[group.rank()][static_cast<std::int64_t>(i) + 1] = static_cast<double>(tables[i].size(1));
  group.sum(widths);
  const auto all = widths.cpu().to(torch::kLong);
  for (std::int64_t rank = 0; rank < all.size(0) && tables.empty(); ++rank) {
    for (std::int64_t i = 0; i < all[rank][0].item<std::int64_t>(); ++i)
      tables.push_back(torch::zeros({0, all[rank][i + 1].item<std::int64_t>()}, torch::kFloat64));
  }
}

// Each table position's rows from every batch, one table per position.
std::vector<torch::Tensor> join_tables(const std::vector<std::vector<torch::Tensor>>& batches) {
  std::vector<torch::Tensor> joined;
  for (std::size_t position = 0; !batches.empty() && position < batches.front().size(); ++position) {
    std::vector<torch::Tensor> parts;
    for (const auto& tables : batches) parts.push_back(tables.at(position).to(torch::kFloat64));
    joined.push_back(torch::cat(parts, 0));
  }
  return joined;
}

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
  std::vector<std::vector<torch::Tensor>> kept;
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
    if (setup.task_keeps_tables) {
      auto tables = task.evaluation_tables(outputs, data);
      if (!tables.empty()) kept.push_back(std::move(tables));
    }
  }
  std::vector<torch::Tensor> tables = join_tables(kept);
  sums[width + 1] = static_cast<double>(last - first);
  if (group) {
    group->sum(sums);
    // Every process gathers every table (a process with no batch contributes empty ones of the same width).
    if (setup.task_keeps_tables) agree_on_tables(tables, *group, device);
    for (auto& table : tables) table = gather_rows(table, *group, device);
  }
  sums = sums.cpu();
  model.set_training(true);
  const double* read = sums.data_ptr<double>();
  EvalResult result;
  result.examples = static_cast<std::int64_t>(read[width + 1]);
  if (result.examples == 0 || read[1] == 0) return result;
  result.loss = read[0] / read[1];
  const std::vector<double> metric_sums(read + 1, read + width + 1);
  const auto values = setup.task_keeps_tables ? task.split_metric_values(metric_sums, result.loss, tables)
                                              : task.metric_values(metric_sums, result.loss);
  for (std::size_t i = 0; i < metrics.size() && i < values.size(); ++i)
    result.metrics.emplace_back(metrics[i].name, values[i]);
  return result;
}

}  // namespace ft
