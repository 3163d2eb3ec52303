#include "runner/input_speed.h"

#include "data/batch_source.h"
#include "data/prefetcher.h"
#include "data/sharding.h"
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "loop/training_loop.h"
#include "model/device.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>

namespace ft {

std::vector<EpochInputSpeed> measure_input_speed(PluginCatalog& catalog, const RunConfig& run, std::int64_t epochs) {
  configure_threads(run.threads);
  log::ComponentLogger dataset_log("dataset:" + run.dataset.type);
  const auto dataset = catalog.make_dataset(run.dataset.type, run.dataset.params, {run.seed, dataset_log, ""});
  const BatchSource train(dataset->train(), dataset->info(), c10::Device(c10::kCPU), run.channels_last);
  std::vector<EpochInputSpeed> speeds;
  for (std::int64_t epoch = 0; epoch < epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    auto generator = at::make_generator<at::CPUGeneratorImpl>(derived_seed(run.seed, epoch, kAugmentStream));
    Prefetcher prefetcher(train, epoch_order(train.size(), run.seed, epoch, Shard{}), run.train.batch_size,
                          run.train.loader_threads, derived_seed(run.seed, epoch, kDecodeStream));
    EpochInputSpeed speed;
    for (std::int64_t step = 0; step < prefetcher.batches(); ++step) {
      speed.images += prefetcher.next(step, &run.augment, &generator).batch_size();
    }
    speed.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    speeds.push_back(speed);
  }
  return speeds;
}

}  // namespace ft
