#include "runner/trainer.h"

#include "runner/augment.h"
#include "runner/precision.h"
#include "runner/progress.h"
#include "runner/signals.h"
#include "runner/training_state.h"
#include "training/lr_schedule.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/nn/functional/loss.h>
#include <torch/torch.h>
#include "log/log.h"

#include <chrono>
#include <cmath>
#include <deque>
#include <future>
#include <map>
#include <optional>

namespace ft {
namespace {

using Clock = std::chrono::steady_clock;

// Turns a split into normalised float batches on the device. A split held in memory is copied to the device
// once as uint8 and batched with index_select; other splits are gathered example by example.
class BatchSource {
 public:
  BatchSource(std::shared_ptr<const Split> split, const DatasetInfo& info, c10::Device device,
              bool channels_last = false)
      : split_(std::move(split)), device_(device), channels_last_(channels_last) {
    const auto channels = info.input.channels;
    auto options = torch::TensorOptions().dtype(torch::kFloat32);
    mean_ = torch::tensor(info.mean, options).view({1, channels, 1, 1}).to(device) * 255.0;
    inv_std_ = (1.0 / (torch::tensor(info.std, options).view({1, channels, 1, 1}) * 255.0)).to(device);
    if (auto tensors = split_->tensors()) {
      images_ = tensors->images.to(device);
      labels_ = tensors->labels.to(device);
    }
  }

  std::int64_t size() const { return split_->size(); }

  bool in_memory() const { return images_.defined(); }

  /// Decodes the examples at `indices` on the calling thread (a loader thread): uint8 images and labels on the
  /// host, in pinned memory when the device is a GPU so the copy can overlap.
  std::pair<torch::Tensor, torch::Tensor> gather(const torch::Tensor& indices) const {
    std::vector<torch::Tensor> pixels;
    std::vector<std::int64_t> classes;
    const auto* index = indices.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < indices.numel(); ++i) {
      Example example = split_->get(index[i]);
      pixels.push_back(example.image);
      classes.push_back(example.label);
    }
    auto images = torch::stack(pixels);
    if (device_.is_cuda()) images = images.pin_memory();
    return {images, torch::tensor(classes, torch::kLong)};
  }

  /// A normalised batch on the device from host data (`gather`) or, for in-memory splits, from `indices`.
  /// Training batches also pass through `augment` (crop, flip) before normalisation.
  Batch batch(const torch::Tensor& indices, const std::pair<torch::Tensor, torch::Tensor>* host = nullptr,
              const AugmentConfig* augment = nullptr, at::Generator* generator = nullptr) const {
    torch::Tensor images, labels;
    if (in_memory()) {
      const auto on_device = indices.to(device_);
      images = images_.index_select(0, on_device);
      labels = labels_.index_select(0, on_device);
    } else {
      const auto gathered = host ? *host : gather(indices);
      images = gathered.first.to(device_, /*non_blocking=*/true);
      labels = gathered.second.to(device_, /*non_blocking=*/true);
    }
    auto pixels = images.to(torch::kFloat32);
    if (augment) pixels = augment_batch(pixels, *augment, *generator);
    auto inputs = (pixels - mean_) * inv_std_;
    if (channels_last_) inputs = inputs.contiguous(at::MemoryFormat::ChannelsLast);
    return {inputs, labels};
  }

 private:
  std::shared_ptr<const Split> split_;
  c10::Device device_;
  bool channels_last_;
  torch::Tensor images_, labels_, mean_, inv_std_;
};

// Decodes the batches of a streaming split ahead of the model on `threads` loader threads, in step order.
class Prefetcher {
 public:
  Prefetcher(const BatchSource& source, torch::Tensor order, std::int64_t batch_size, std::int64_t threads)
      : source_(source), order_(std::move(order)), batch_size_(batch_size), threads_(threads) {}

  torch::Tensor indices(std::int64_t step) const {
    return order_.slice(0, step * batch_size_, std::min((step + 1) * batch_size_, order_.size(0)));
  }

  /// Batch `step`; training passes `augment` and its generator, evaluation neither.
  Batch next(std::int64_t step, const AugmentConfig* augment = nullptr, at::Generator* generator = nullptr) {
    if (source_.in_memory() || threads_ == 0) return source_.batch(indices(step), nullptr, augment, generator);
    const std::int64_t steps = (order_.size(0) + batch_size_ - 1) / batch_size_;
    while (next_to_launch_ < steps && next_to_launch_ < step + 2 * threads_) {
      pending_.push_back(
          std::async(std::launch::async, [this, k = next_to_launch_] { return source_.gather(indices(k)); }));
      ++next_to_launch_;
    }
    auto host = pending_.front().get();
    pending_.pop_front();
    return source_.batch(indices(step), &host, augment, generator);
  }

 private:
  const BatchSource& source_;
  torch::Tensor order_;
  std::int64_t batch_size_, threads_;
  std::int64_t next_to_launch_ = 0;
  std::deque<std::future<std::pair<torch::Tensor, torch::Tensor>>> pending_;
};

}  // namespace

class Trainer::Impl {
 public:
  explicit Impl(TrainerSetup setup) : s_(std::move(setup)) {
    generator_ = at::make_generator<at::CPUGeneratorImpl>(s_.seed);
  }

  void fit() {
    BatchSource train(s_.train, s_.info, s_.device, s_.channels_last);
    if (train.size() == 0) throw DataError("the training split is empty");
    std::unique_ptr<BatchSource> validation;
    if (s_.validation) validation = std::make_unique<BatchSource>(s_.validation, s_.info, s_.device, s_.channels_last);
    const TrainConfig& config = s_.config;
    const std::int64_t batches = (train.size() + config.batch_size - 1) / config.batch_size;
    const std::int64_t steps_per_epoch = (batches + config.accumulate - 1) / config.accumulate;
    LrSchedule schedule(s_.schedule, steps_per_epoch, config.epochs);
    std::vector<double> base_lrs;
    for (auto& group : s_.optimizer->param_groups()) base_lrs.push_back(group.options().get_lr());
    std::string monitor = config.monitor;
    if (!validation && monitor.rfind("val_", 0) == 0) {
      monitor = "train" + monitor.substr(3);
      log::warn("no validation split: monitoring " + monitor + " instead of " + config.monitor);
    }
    std::optional<double> best;
    std::int64_t evaluations_without_improvement = 0;
    std::int64_t global_step = 0, first_epoch = 1;
    if (s_.resume) {
      // Base learning rates were read above, before the optimizer's saved options replace them.
      const TrainingState& state = *s_.resume;
      first_epoch = state.epoch + 1;
      global_step = state.global_step;
      generator_.set_state(state.data_generator);
      at::Generator default_generator = at::detail::getDefaultCPUGenerator();
      default_generator.set_state(state.torch_generator);
      load_optimizer(*s_.optimizer, state.optimizer);
      schedule.restore(state.schedule);
      scaler_.restore(state.loss_scale);
      best = state.best;
      evaluations_without_improvement = state.evaluations_without_improvement;
      log::info(fmt::format("resuming after epoch {} (step {})", state.epoch, global_step));
    }

    Progress progress(config.epochs, batches);
    std::optional<std::string> pruned;
    for (std::int64_t epoch = first_epoch; epoch <= config.epochs; ++epoch) {
      progress.start_epoch(epoch);
      s_.model->set_training(true);
      const auto order = torch::randperm(train.size(), generator_, torch::kLong);
      Prefetcher prefetcher(train, order, config.batch_size, config.loader_threads);
      const auto epoch_start = Clock::now();
      double loss_sum = 0;
      std::int64_t correct = 0, seen = 0;
      std::vector<MetricRow> rows;
      std::vector<double> peak_lr(s_.group_names.size(), 0.0);
      for (std::int64_t first = 0; first < batches; first += config.accumulate) {
        if (stop_requested()) {
          progress.clear();
          s_.record(rows);
          throw Interrupted(
              fmt::format("stopped by signal {} at epoch {}, step {}", stop_signal(), epoch, global_step));
        }
        // One optimizer step over `micro` micro-batches, at the learning rate the schedule gives this step.
        const double factor = schedule.factor(global_step);
        for (std::size_t g = 0; g < base_lrs.size(); ++g) {
          s_.optimizer->param_groups()[g].options().set_lr(base_lrs[g] * factor);
        }
        const std::int64_t micro = std::min(config.accumulate, batches - first);
        s_.optimizer->zero_grad();
        double step_loss = 0;
        for (std::int64_t b = first; b < first + micro; ++b) {
          Batch data = prefetcher.next(b, &s_.augment, &generator_);
          const auto n = data.targets.size(0);
          const auto [loss, hits] = forward_backward(data, 1.0 / static_cast<double>(micro));
          step_loss += loss / static_cast<double>(micro);
          loss_sum += loss * n;
          correct += hits;
          seen += n;
          progress.step(b + 1, loss, seen);
        }
        ++global_step;
        if (scaler_.enabled()) {
          // fp16: a step whose gradients overflowed is skipped and the loss scale halved, as GradScaler does.
          const bool finite = scaler_.unscale_and_check(s_.model->parameters());
          scaler_.update(finite);
          if (!finite) {
            rows.push_back({"step", epoch, global_step, "skipped_step", 1.0});
            rows.push_back({"step", epoch, global_step, "loss_scale", scaler_.scale()});
            continue;
          }
        }
        if (s_.after_step && s_.after_step(global_step, step_loss)) {
          rows.push_back({"step", epoch, global_step, "train_loss", step_loss});
          for (std::size_t g = 0; g < s_.group_names.size(); ++g) {
            rows.push_back({"step", epoch, global_step, "lr/" + s_.group_names[g], group_lr(g)});
          }
          progress.clear();
          s_.record(rows);
          return;  // the caller asked for no more steps: no epoch summary, checkpoint or test
        }
        if (!std::isfinite(step_loss)) {
          progress.clear();
          rows.push_back({"step", epoch, global_step, "train_loss", step_loss});  // stored: NaN as NULL
          s_.record(rows);
          throw Diverged(
              fmt::format("the training loss became {} at epoch {}, step {}: training diverged (try a "
                          "smaller learning rate)",
                          step_loss, epoch, global_step));
        }
        if (config.clip_grad_norm > 0) {
          const double norm = torch::nn::utils::clip_grad_norm_(s_.model->parameters(), config.clip_grad_norm);
          rows.push_back({"step", epoch, global_step, "grad_norm", norm});
        }
        s_.optimizer->step();
        rows.push_back({"step", epoch, global_step, "train_loss", step_loss});
        for (std::size_t g = 0; g < s_.group_names.size(); ++g) {
          rows.push_back({"step", epoch, global_step, "lr/" + s_.group_names[g], group_lr(g)});
          peak_lr[g] = std::max(peak_lr[g], group_lr(g));
        }
      }
      // Each group's highest rate of the epoch, so that comparing by lr/GROUP reads a row per epoch, not per step.
      for (std::size_t g = 0; g < s_.group_names.size(); ++g) {
        rows.push_back({"epoch", epoch, global_step, "lr/" + s_.group_names[g], peak_lr[g]});
      }
      const double seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
      progress.clear();
      std::map<std::string, double> metrics{{"train_loss", loss_sum / seen},
                                            {"train_accuracy", static_cast<double>(correct) / seen}};
      rows.push_back({"epoch", epoch, global_step, "lr", group_lr(s_.group_names.size() - 1)});
      rows.push_back({"epoch", epoch, global_step, "images_per_second", seen / seconds});
      rows.push_back({"epoch", epoch, global_step, "seconds", seconds});
      std::string summary = fmt::format("epoch {}/{}: train loss {:.4f} acc {:.4f}", epoch, config.epochs,
                                        metrics["train_loss"], metrics["train_accuracy"]);
      const bool evaluate_now = epoch % config.eval_every == 0 || epoch == config.epochs;
      if (validation && evaluate_now) {
        const EvalResult result = evaluate(*validation);
        metrics["val_loss"] = result.loss;
        metrics["val_accuracy"] = result.accuracy;
        summary += fmt::format(" | val loss {:.4f} acc {:.4f}", result.loss, result.accuracy);
      }
      for (const auto& [name, value] : metrics) rows.push_back({"epoch", epoch, global_step, name, value});
      log::info(fmt::format("{} | {:.0f} img/s, {:.1f} s", summary, seen / seconds, seconds));
      s_.record(rows);

      bool stop = false;
      if (s_.prune && validation && evaluate_now) {
        if (auto reason = s_.prune(epoch)) {
          log::info("pruned after epoch " + std::to_string(epoch) + ": " + *reason);
          s_.record({{"final", epoch, global_step, "pruned_at_epoch", static_cast<double>(epoch)}});
          pruned = std::move(reason);
          stop = true;
        }
      }
      if (auto value = metrics.find(monitor); value != metrics.end()) {
        const bool improved = !best || improves(monitor, config.monitor_mode, value->second, *best, config.min_delta);
        schedule.on_evaluation(improved);
        if (improved) {
          best = value->second;
          evaluations_without_improvement = 0;
          s_.record({{"final", epoch, global_step, "best_epoch", static_cast<double>(epoch)},
                     {"final", epoch, global_step, "best_" + monitor, value->second}});
          save_tensors(s_.model->state(), s_.checkpoint_dir + "/best.pt");
        } else if (config.patience > 0 && ++evaluations_without_improvement >= config.patience) {
          log::info(fmt::format("early stopping: {} has not improved for {} evaluations (best {:.4f})", monitor,
                                config.patience, *best));
          s_.record({{"final", epoch, global_step, "stopped_early_at_epoch", static_cast<double>(epoch)}});
          stop = true;
        }
      }
      // The last checkpoint holds everything needed to continue after this epoch exactly as if uninterrupted.
      TensorMap checkpoint = s_.model->state();
      store_training_state(
          {epoch, global_step, generator_.get_state(), at::detail::getDefaultCPUGenerator().get_state(),
           save_optimizer(*s_.optimizer), schedule.state(), scaler_.state(), best, evaluations_without_improvement},
          checkpoint);
      const std::string last = s_.checkpoint_dir + "/last.pt";
      save_tensors(checkpoint, last);
      s_.on_checkpoint(last);
      if (stop) break;
    }
    if (pruned) throw Pruned(*pruned);  // a pruned trial is not worth its test evaluation
    if (s_.test && config.test) {
      BatchSource test(s_.test, s_.info, s_.device, s_.channels_last);
      const EvalResult result = evaluate(test);
      s_.record({{"final", config.epochs, global_step, "test_loss", result.loss},
                 {"final", config.epochs, global_step, "test_accuracy", result.accuracy}});
      log::info(fmt::format("test: loss {:.4f} acc {:.4f} ({} images)", result.loss, result.accuracy, result.examples));
    }
  }

  EvalResult evaluate(const BatchSource& source) {
    torch::NoGradGuard no_grad;
    s_.model->set_training(false);
    double loss_sum = 0;
    std::int64_t correct = 0;
    const std::int64_t size = source.size();
    const std::int64_t batch_size = s_.config.eval_batch_size;
    // In order; the loader threads decode ahead for splits that are not held in memory, as in training.
    Prefetcher prefetcher(source, torch::arange(size, torch::kLong), batch_size, s_.config.loader_threads);
    for (std::int64_t step = 0; step * batch_size < size; ++step) {
      const Batch data = prefetcher.next(step);
      torch::Tensor logits;
      {
        AutocastScope autocast(s_.device.type(), s_.precision);
        logits = s_.model->forward(data.inputs).to(torch::kFloat32);
      }
      loss_sum += torch::nn::functional::cross_entropy(
                      logits, data.targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                      .item<double>();
      correct += logits.argmax(1).eq(data.targets).sum().item<std::int64_t>();
    }
    s_.model->set_training(true);
    if (size == 0) return {};
    return {loss_sum / size, static_cast<double>(correct) / size, size};
  }

 private:
  // Forward and backward of one micro-batch, its loss scaled by `scale` (1 / micro-batches per step) so the
  // summed gradients equal those of one large batch. Returns the unscaled loss and the correct predictions.
  std::pair<double, std::int64_t> forward_backward(Batch& data, double scale) {
    const auto labels = data.targets;
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
    (loss.to(torch::kFloat32) * (scale * scaler_.scale())).backward();
    const std::int64_t hits = logits.detach().argmax(1).eq(labels).sum().item<std::int64_t>();
    return {loss.item<double>(), hits};
  }

  double group_lr(std::size_t group) const { return s_.optimizer->param_groups().at(group).options().get_lr(); }

  TrainerSetup s_;
  at::Generator generator_;
  LossScaler scaler_{s_.precision == "fp16"};
};

Trainer::Trainer(TrainerSetup setup) : impl_(std::make_unique<Impl>(std::move(setup))) {}
Trainer::~Trainer() = default;
void Trainer::fit() { impl_->fit(); }

}  // namespace ft
