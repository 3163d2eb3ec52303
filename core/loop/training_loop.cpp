#include "loop/training_loop.h"

#include "data/prefetcher.h"
#include "data/sharding.h"
#include "distributed/process_group.h"
#include "log/log.h"
#include "training/signals.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>

namespace ft {

TrainingLoop::TrainingLoop(LoopSetup setup, LoopState state) : s_(std::move(setup)), state_(std::move(state)) {
  if (s_.train->size() == 0) throw DataError("the training split is empty");
  const Shard shard = s_.group ? s_.group->shard() : Shard{};
  const std::int64_t per_process = s_.train->size() / shard.world;
  if (per_process == 0) {
    throw DataError(
        fmt::format("the training split has {} examples, fewer than the {} processes", s_.train->size(), shard.world));
  }
  batches_per_epoch_ = (per_process + s_.config.batch_size - 1) / s_.config.batch_size;
  state_.epochs = s_.config.epochs;
  state_.steps_per_epoch = (batches_per_epoch_ + s_.config.accumulate - 1) / s_.config.accumulate;
}

void TrainingLoop::run(const std::optional<TrainingState>& resume) {
  if (resume) {
    state_.epoch = resume->epoch;
    state_.global_step = resume->global_step;
    s_.step->load(resume->tensors);
    if (s_.average) s_.average->load(resume->tensors);
    each([&](Callback& c) { c.load(resume->tensors); });
    log::info(fmt::format("resuming after epoch {} (step {})", resume->epoch, resume->global_step));
  }
  try {
    each([&](Callback& c) { c.on_train_start(state_); });
    while (state_.epoch < state_.epochs && !state_.stop) {
      ++state_.epoch;
      const auto start = std::chrono::steady_clock::now();
      train_epoch();
      if (state_.end_now) {
        each([&](Callback& c) { c.on_halt(state_); });
        return;
      }
      finish_epoch(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  } catch (...) {
    // Record what is known before the error travels on; a callback failing here must not hide the error.
    each([&](Callback& c) {
      try {
        c.on_halt(state_);
      } catch (const std::exception& e) {
        log::warn(std::string("while stopping: ") + e.what());
      }
    });
    throw;
  }
  if (state_.pruned) throw Pruned(*state_.pruned);  // a pruned trial is not worth its test evaluation
  each([&](Callback& c) { c.on_train_end(state_); });
}

void TrainingLoop::train_epoch() {
  const Shard shard = s_.group ? s_.group->shard() : Shard{};
  const std::int64_t epoch = state_.epoch;
  // Every random draw of an epoch comes from streams seeded by (seed, epoch, rank): a resumed run draws what the
  // uninterrupted one drew, and each process augments and drops out differently while sharing one data order.
  torch::manual_seed(derived_seed(s_.seed, epoch, kTorchStream + static_cast<std::uint64_t>(shard.rank)));
  auto augment_generator = at::make_generator<at::CPUGeneratorImpl>(
      derived_seed(s_.seed, epoch, kAugmentStream + static_cast<std::uint64_t>(shard.rank)));
  Prefetcher prefetcher(*s_.train, epoch_order(s_.train->size(), s_.seed, epoch, shard), s_.config.batch_size,
                        s_.config.loader_threads, derived_seed(s_.seed, epoch, kDecodeStream));
  s_.model->set_training(true);
  state_.epoch_examples = 0;
  const std::int64_t accumulate = s_.config.accumulate;
  const std::int64_t log_every = s_.config.log_every;
  for (std::int64_t step = 0; step < state_.steps_per_epoch; ++step) {
    each([&](Callback& c) { c.before_step(state_); });
    const std::int64_t first = step * accumulate;
    const std::int64_t micro = std::min(accumulate, batches_per_epoch_ - first);
    s_.step->run(epoch, state_.global_step + 1, micro, [&](std::int64_t i) {
      Batch batch = prefetcher.next(first + i, &s_.augment, &augment_generator);
      s_.evaluation.task->prepare(batch, augment_generator);
      state_.epoch_examples += batch.batch_size() * shard.world;
      return batch;
    });
    ++state_.global_step;
    if (s_.average) s_.average->update(state_.global_step);
    // A single process stops at once on Ctrl-C; several agree on it at the next read-back, which every process
    // reaches at the same step (a collective cannot be skipped by one of them).
    const bool stop_wanted = stop_requested();
    const bool last = step + 1 == state_.steps_per_epoch;
    if ((step + 1) % log_every == 0 || last || (stop_wanted && !s_.group)) read_back(stop_wanted);
    if (state_.end_now) return;
  }
}

void TrainingLoop::read_back(bool stop_wanted) {
  ReadBack result = s_.step->read_back(s_.group, stop_wanted);
  // Steps after the first non-finite loss are not reported: that loss is where the run diverged.
  auto diverged = std::find_if(result.steps.begin(), result.steps.end(),
                               [](const StepRecord& step) { return !step.skipped && !std::isfinite(step.loss); });
  std::optional<StepRecord> bad;
  if (diverged != result.steps.end()) {
    bad = *diverged;
    result.steps.erase(diverged + 1, result.steps.end());
  }
  each([&](Callback& c) { c.on_steps(state_, result.steps); });
  if (bad) {
    throw Diverged(
        fmt::format("the training loss became {} at epoch {}, step {}: training diverged (try a smaller "
                    "learning rate)",
                    bad->loss, bad->epoch, bad->global_step));
  }
  if (result.stop && !state_.end_now) {
    throw Interrupted(fmt::format("stopped by {} at epoch {}, step {}",
                                  stop_requested() ? "signal " + std::to_string(stop_signal()) : "another process",
                                  state_.epoch, state_.global_step));
  }
}

void TrainingLoop::finish_epoch(double seconds) {
  EpochRecord record;
  record.epoch = state_.epoch;
  record.global_step = state_.global_step;
  record.seconds = seconds;
  const EpochTotals totals = s_.step->take_epoch_totals();
  record.examples = static_cast<std::int64_t>(totals.examples);
  const Task& task = *s_.evaluation.task;
  const double weight = totals.sums.empty() ? 0.0 : totals.sums[0];
  record.metrics["train_loss"] = totals.loss_sum / weight;
  const auto metrics = task.metrics();
  const auto values = task.metric_values(totals.sums, record.metrics["train_loss"]);
  for (std::size_t i = 0; i < metrics.size() && i < values.size(); ++i) {
    // NaN: a metric the task computes only in evaluation (COCO's mAP needs the split's every detection).
    if (!std::isnan(values[i])) record.metrics["train_" + metrics[i].name] = values[i];
  }
  record.evaluated = s_.validation && (state_.epoch % s_.config.eval_every == 0 || state_.epoch == state_.epochs);
  {
    // With train.ema_evaluate the average is what is validated, and what best.pt keeps; the checkpoint below
    // holds the trained weights again.
    AveragedWeightsScope averaged(s_.config.ema_evaluate ? s_.average : nullptr);
    if (record.evaluated) {
      const EvalResult result = evaluate(*s_.model, *s_.validation, s_.evaluation, s_.group);
      record.metrics["val_loss"] = result.loss;
      for (const auto& [name, value] : result.metrics) record.metrics["val_" + name] = value;
    }
    each([&](Callback& c) { c.on_epoch_end(state_, record); });
  }
  // The checkpoint holds everything needed to continue after this epoch exactly as if uninterrupted. Only the
  // process that writes it assembles it (the optimizer's state is serialised for it).
  if (state_.leader) {
    TensorMap checkpoint = s_.model->state();
    put_state(checkpoint, "epoch", {static_cast<double>(state_.epoch)});
    put_state(checkpoint, "global_step", {static_cast<double>(state_.global_step)});
    s_.step->save(checkpoint);
    if (s_.average) s_.average->save(checkpoint);
    each([&](Callback& c) { c.save(checkpoint); });
    each([&](Callback& c) { c.on_checkpoint(state_, checkpoint); });
  }
}

}  // namespace ft
