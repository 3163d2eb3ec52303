// The training loop's parts, tested in-process on a tiny BatchNorm-free model: the step (accumulation,
// clipping, fp16's fused check), the loop's read-backs and events, the callbacks' decisions and checkpoint
// parts, and which examples each process sees.
#include "data/batch_source.h"
#include "data/sharding.h"
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "loop/callbacks/early_stopping.h"
#include "loop/feature_cache.h"
#include "loop/feature_cache_file.h"
#include "loop/static_batch.h"
#include "loop/train_step.h"
#include "loop/training_loop.h"
#include "loop/weight_average.h"
#include "model/model.h"
#include "model/precision.h"
#include "temp_dir.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

namespace {

using ft::tensor_names::kImages;
using ft::tensor_names::kLabels;
using ft::tensor_names::kTargets;

class FlatBackbone : public ft::Backbone {
 public:
  FlatBackbone() : linear_(register_module("linear", torch::nn::Linear(16, 8))) {}
  torch::Tensor forward(torch::Tensor images) override { return torch::tanh(linear_->forward(images.flatten(1))); }
  std::int64_t feature_size() const override { return 8; }

 private:
  torch::nn::Linear linear_;
};

class LinearHead : public ft::Head {
 public:
  LinearHead() : linear_(register_module("linear", torch::nn::Linear(8, 3))) {}
  torch::Tensor forward(torch::Tensor features) override { return linear_->forward(features); }

 private:
  torch::nn::Linear linear_;
};

class MemorySplit : public ft::Split {
 public:
  explicit MemorySplit(std::int64_t size) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
    images_ = torch::randint(0, 256, {size, 1, 4, 4}, generator, torch::kLong).to(torch::kUInt8);
    labels_ = torch::randint(0, 3, {size}, generator, torch::kLong);
  }
  std::int64_t size() const override { return images_.size(0); }
  ft::Example get(std::int64_t index) const override {
    return ft::image_example(images_[index], labels_[index].item<std::int64_t>());
  }
  std::optional<ft::NamedTensors> tensors() const override {
    return ft::NamedTensors{{ft::tensor_names::kImages, images_}, {ft::tensor_names::kLabels, labels_}};
  }

 private:
  torch::Tensor images_, labels_;
};

ft::DatasetInfo tiny_info() {
  ft::DatasetInfo info;
  info.num_classes = 3;
  info.input = {1, 4, 4};
  info.mean = {0.5};
  info.std = {0.25};
  return info;
}

// The built-in classification task, loaded from its plugin as a run loads it.
const ft::Task& classification() {
  static ft::PluginCatalog catalog;
  static ft::log::ComponentLogger log{"test"};
  static const std::shared_ptr<ft::Task> task = [] {
    catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_classification.so");
    return catalog.make_task("classification", ft::Params("task"), {tiny_info(), log});
  }();
  return *task;
}

// A batch with its targets formed, as the loop hands it to the step.
ft::Batch prepared(ft::Batch batch) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(0);
  classification().prepare(batch, generator);
  return batch;
}

std::shared_ptr<ft::Classifier> tiny_model(std::uint64_t seed = 3) {
  torch::manual_seed(seed);
  return std::make_shared<ft::Classifier>(std::make_shared<FlatBackbone>(), std::make_shared<LinearHead>());
}

std::vector<torch::Tensor> gradients(ft::Classifier& model) {
  std::vector<torch::Tensor> out;
  for (auto& p : model.parameters()) out.push_back(p.grad().clone());
  return out;
}

// Collects what the loop reports.
struct Recorder : ft::Callback {
  std::vector<std::size_t> read_backs;
  std::vector<std::int64_t> steps;
  std::vector<std::string> events;
  void on_train_start(ft::LoopState&) override { events.push_back("start"); }
  void on_steps(ft::LoopState&, const std::vector<ft::StepRecord>& records) override {
    read_backs.push_back(records.size());
    for (const auto& record : records) steps.push_back(record.global_step);
  }
  void on_epoch_end(ft::LoopState& state, ft::EpochRecord& epoch) override {
    events.push_back("epoch " + std::to_string(epoch.epoch) + (epoch.evaluated ? " evaluated" : ""));
    (void)state;
  }
  void on_train_end(ft::LoopState&) override { events.push_back("end"); }
  void on_halt(ft::LoopState&) override { events.push_back("halt"); }
};

}  // namespace

TEST_CASE("a step over micro-batches gives the gradients of one large batch", "[loop]") {
  auto split = std::make_shared<MemorySplit>(32);
  ft::BatchSource source(split, tiny_info(), c10::Device(c10::kCPU));
  const auto all = torch::arange(32, torch::kLong);

  auto whole = tiny_model();
  torch::optim::SGD sgd_whole(whole->parameters(), torch::optim::SGDOptions(0.0));
  ft::TrainStep one({whole.get(), &classification(), &sgd_whole, {}, c10::Device(c10::kCPU), "fp32", 0, nullptr});
  one.run(1, 1, 1, [&](std::int64_t) { return prepared(source.batch(all)); });

  auto parts = tiny_model();
  torch::optim::SGD sgd_parts(parts->parameters(), torch::optim::SGDOptions(0.0));
  ft::TrainStep four({parts.get(), &classification(), &sgd_parts, {}, c10::Device(c10::kCPU), "fp32", 0, nullptr});
  four.run(1, 1, 4, [&](std::int64_t i) { return prepared(source.batch(all.slice(0, i * 8, (i + 1) * 8))); });

  const auto a = gradients(*whole), b = gradients(*parts);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(torch::allclose(a[i], b[i], 1e-5, 1e-6));
  // The losses stay on the device until read back, then agree: the mean of the parts is the whole's.
  const auto first = one.read_back(nullptr, false), second = four.read_back(nullptr, false);
  REQUIRE(first.steps.size() == 1);
  CHECK(first.steps[0].loss == Approx(second.steps[0].loss).epsilon(1e-6));
  CHECK_FALSE(first.stop);
  const auto totals = four.take_epoch_totals();
  CHECK(totals.examples == 32);
}

TEST_CASE("gradient clipping on the device matches LibTorch's clip_grad_norm_", "[loop]") {
  auto a = tiny_model(), b = tiny_model();
  const auto inputs = torch::randn({6, 1, 4, 4});
  a->forward(inputs).pow(2).sum().backward();
  b->forward(inputs).pow(2).sum().backward();
  const double expected = torch::nn::utils::clip_grad_norm_(a->parameters(), 0.5);
  const auto norm = ft::clip_gradients(b->parameters(), 0.5);
  CHECK(norm.item<double>() == Approx(expected).epsilon(1e-5));
  const auto ga = gradients(*a), gb = gradients(*b);
  for (std::size_t i = 0; i < ga.size(); ++i) CHECK(torch::allclose(ga[i], gb[i], 1e-5, 1e-7));
}

TEST_CASE("the fp16 loss scaler unscales every gradient in one fused check and finds an overflow", "[loop]") {
  auto model = tiny_model();
  model->forward(torch::randn({2, 1, 4, 4})).sum().backward();
  const auto before = gradients(*model);
  ft::LossScaler scaler(true, 8.0);
  REQUIRE(scaler.unscale_and_check(model->parameters()));
  const auto after = gradients(*model);
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(torch::allclose(after[i], before[i] / 8.0));
  model->parameters().back().mutable_grad()[0] = std::numeric_limits<float>::infinity();
  CHECK_FALSE(scaler.unscale_and_check(model->parameters()));
  scaler.update(false);
  CHECK(scaler.scale() == 4.0);
}

TEST_CASE("the loop reads losses back every log_every steps and at each epoch's end", "[loop]") {
  auto split = std::make_shared<MemorySplit>(40);
  ft::BatchSource train(split, tiny_info(), c10::Device(c10::kCPU));
  ft::BatchSource validation(std::make_shared<MemorySplit>(10), tiny_info(), c10::Device(c10::kCPU));
  auto model = tiny_model();
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.01));
  ft::TrainStep step({model.get(), &classification(), &sgd, {}, c10::Device(c10::kCPU), "fp32", 0, nullptr});
  ft::LoopSetup setup;
  setup.model = model.get();
  setup.evaluation.task = &classification();
  setup.step = &step;
  setup.train = &train;
  setup.validation = &validation;
  setup.config.epochs = 2;
  setup.config.batch_size = 4;  // 10 steps an epoch
  setup.config.log_every = 4;
  setup.config.eval_every = 2;
  ft::LoopState state;
  state.leader = false;  // no checkpoint files
  ft::TrainingLoop loop(setup, state);
  Recorder recorder;
  loop.add(recorder);
  loop.run();
  // Steps 4 and 8, then the epoch's last (10): three read-backs an epoch, every step once, in order.
  CHECK(recorder.read_backs == std::vector<std::size_t>{4, 4, 2, 4, 4, 2});
  std::vector<std::int64_t> expected(20);
  std::iota(expected.begin(), expected.end(), 1);
  CHECK(recorder.steps == expected);
  CHECK(recorder.events == std::vector<std::string>{"start", "epoch 1", "epoch 2 evaluated", "end"});
}

TEST_CASE("a diverging loss halts the loop at the first non-finite step", "[loop]") {
  auto split = std::make_shared<MemorySplit>(40);
  ft::BatchSource train(split, tiny_info(), c10::Device(c10::kCPU));
  auto model = tiny_model();
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(std::numeric_limits<double>::infinity()));
  ft::TrainStep step({model.get(), &classification(), &sgd, {}, c10::Device(c10::kCPU), "fp32", 0, nullptr});
  ft::LoopSetup setup;
  setup.model = model.get();
  setup.evaluation.task = &classification();
  setup.step = &step;
  setup.train = &train;
  setup.config.epochs = 3;
  setup.config.batch_size = 4;
  setup.config.log_every = 5;
  ft::LoopState state;
  state.leader = false;
  ft::TrainingLoop loop(setup, state);
  Recorder recorder;
  loop.add(recorder);
  CHECK_THROWS_AS(loop.run(), ft::Diverged);
  REQUIRE_FALSE(recorder.steps.empty());
  CHECK(recorder.events.back() == "halt");
  // Nothing after the divergent step is reported.
  CHECK(recorder.steps.back() <= 5);
}

TEST_CASE("early stopping counts evaluations without improvement and keeps its count in the checkpoint", "[loop]") {
  ft::EarlyStopping stopping(2);
  ft::LoopState state;
  state.monitor = "val_loss";
  ft::EpochRecord epoch;
  epoch.improved = false;
  stopping.on_epoch_end(state, epoch);
  CHECK_FALSE(state.stop);
  ft::TensorMap checkpoint;
  stopping.save(checkpoint);

  ft::EarlyStopping restored(2);
  restored.load(checkpoint);
  restored.on_epoch_end(state, epoch);
  CHECK(state.stop);
  REQUIRE(state.rows.size() == 1);
  CHECK(state.rows[0].name == "stopped_early_at_epoch");

  ft::LoopState other;
  ft::EarlyStopping reset(2);
  epoch.improved = false;
  reset.on_epoch_end(other, epoch);
  epoch.improved = true;
  reset.on_epoch_end(other, epoch);
  epoch.improved = false;
  reset.on_epoch_end(other, epoch);
  CHECK_FALSE(other.stop);  // an improvement resets the count
}

TEST_CASE("each process gets a disjoint shard, and the shards of a step are one process's batch", "[loop][sharding]") {
  const std::int64_t size = 103, batch = 5;
  const auto single = ft::epoch_order(size, 9, 2, {0, 1});
  const auto r0 = ft::epoch_order(size, 9, 2, {0, 2});
  const auto r1 = ft::epoch_order(size, 9, 2, {1, 2});
  REQUIRE(r0.size(0) == 51);
  REQUIRE(r1.size(0) == 51);
  std::set<std::int64_t> seen;
  for (const auto& order : {r0, r1}) {
    for (std::int64_t i = 0; i < order.size(0); ++i) CHECK(seen.insert(order[i].item<std::int64_t>()).second);
  }
  for (std::int64_t t = 0; t * batch < 51; ++t) {
    std::set<std::int64_t> two, one;
    for (const auto& order : {r0, r1}) {
      const auto part = order.slice(0, t * batch, std::min<std::int64_t>((t + 1) * batch, 51));
      for (std::int64_t i = 0; i < part.size(0); ++i) two.insert(part[i].item<std::int64_t>());
    }
    const auto whole = single.slice(0, t * 2 * batch, std::min<std::int64_t>((t + 1) * 2 * batch, 102));
    for (std::int64_t i = 0; i < whole.size(0); ++i) one.insert(whole[i].item<std::int64_t>());
    CHECK(two == one);
  }
  // Another epoch, another order; the same epoch, the same order.
  CHECK_FALSE(torch::equal(ft::epoch_order(size, 9, 3, {0, 1}), single));
  CHECK(torch::equal(ft::epoch_order(size, 9, 2, {0, 1}), single));
  // Evaluation ranges cover a split once.
  std::int64_t covered = 0;
  for (int rank = 0; rank < 3; ++rank) {
    const auto [first, last] = ft::evaluation_range(10, {rank, 3});
    CHECK(first == covered);
    covered = last;
  }
  CHECK(covered == 10);
}

namespace {
ft::Batch image_batch(torch::Tensor images, torch::Tensor targets) {
  return {{kImages, std::move(images)}, {kTargets, std::move(targets)}};
}
}  // namespace

TEST_CASE("a CUDA graph's static batch takes batches of its shape only, keeping the memory format", "[loop][graph]") {
  const ft::Batch first = image_batch(torch::randn({4, 3, 8, 8}).contiguous(at::MemoryFormat::ChannelsLast),
                                      torch::randint(0, 10, {4}, torch::kLong));
  ft::StaticBatch buffers(first);
  CHECK(buffers.batch().at(kImages).is_contiguous(at::MemoryFormat::ChannelsLast));
  const auto memory = buffers.batch().at(kImages).data_ptr();

  const ft::Batch next = image_batch(torch::randn({4, 3, 8, 8}), torch::randint(0, 10, {4}, torch::kLong));
  REQUIRE(buffers.fits(next));
  buffers.load(next);
  CHECK(torch::equal(buffers.batch().at(kImages), next.at(kImages)));
  CHECK(torch::equal(buffers.batch().at(kTargets), next.at(kTargets)));
  CHECK(buffers.batch().at(kImages).data_ptr() == memory);  // the graph keeps reading the same memory

  // An epoch's last, smaller batch, or targets a regularization turned into probabilities, run outside the graph.
  const ft::Batch last = image_batch(torch::randn({3, 3, 8, 8}), torch::randint(0, 10, {3}, torch::kLong));
  const ft::Batch mixed = image_batch(torch::randn({4, 3, 8, 8}), torch::rand({4, 10}));
  CHECK_FALSE(buffers.fits(last));
  CHECK_FALSE(buffers.fits(mixed));
  CHECK_THROWS_AS(buffers.load(last), ft::Error);
}

namespace {

// Changes every batch it sees, as mixup does.
struct Mixing : ft::Regularization {
  void transform_batch(ft::Batch& batch) override { batch[kImages] = batch.at(kImages).flip(0); }
};

}  // namespace

TEST_CASE("the feature cache is planned only where the backbone's output cannot change", "[loop][feature_cache]") {
  auto split = std::make_shared<MemorySplit>(8);
  ft::BatchSource train(split, tiny_info(), c10::Device(c10::kCPU));
  ft::TrainConfig config;
  ft::AugmentConfig augment;
  auto model = tiny_model();
  const ft::FeatureCacheBudget budget{1 << 20, 1 << 20, 0};
  CHECK_THAT(ft::plan_feature_cache(config, augment, *model, {}, train, 8, budget).reason,
             Catch::Contains("no leading stage of the backbone is frozen"));
  model->freeze({"*"});
  CHECK(ft::plan_feature_cache(config, augment, *model, {}, train, 8, budget).use);
  CHECK_THAT(ft::plan_feature_cache(config, augment, *model, {std::make_shared<Mixing>()}, train, 8, budget).reason,
             Catch::Contains("a regularization changes the batches"));
  augment.hflip = true;
  CHECK_THAT(ft::plan_feature_cache(config, augment, *model, {}, train, 8, budget).reason,
             Catch::Contains("dataset.augment"));
  augment.hflip = false;
  // 8 features of 4 bytes per image: 256 bytes for 8 images, over a budget of 100.
  const ft::FeatureCacheBudget small{100, 100, 0};
  CHECK_THAT(ft::plan_feature_cache(config, augment, *model, {}, train, 8, small).reason, Catch::Contains("budget"));
  // Too big for memory, not for disk: a file.
  const auto on_disk = ft::plan_feature_cache(config, augment, *model, {}, train, 8, {100, 100, 1000});
  CHECK(on_disk.use);
  CHECK(on_disk.tier == ft::FeatureCacheTier::disk);
  config.feature_cache = "disk";
  CHECK_THAT(ft::plan_feature_cache(config, augment, *model, {}, train, 8, budget).reason,
             Catch::Contains("no folder"));
  config.feature_cache = "memory";
  CHECK(ft::plan_feature_cache(config, augment, *model, {}, train, 8, small).use);
  config.feature_cache = "off";
  CHECK_FALSE(ft::plan_feature_cache(config, augment, *model, {}, train, 8, budget).use);

  // The cached source gives the backbone's features, and the model takes them in place of images.
  config.feature_cache = "auto";
  const auto images = train.batch(torch::arange(8, torch::kLong));
  torch::NoGradGuard no_grad;
  model->eval();
  const auto expected = model->forward(images.at(kImages));
  ft::FeatureCacheRequest request;
  request.stages = ft::Classifier::kWholeBackbone;
  request.batch_size = 3;
  const ft::BatchSource features = ft::cache_features(*model, train, request).source;
  model->set_inputs_after(ft::Classifier::kWholeBackbone);
  const auto from_cache = model->forward(features.batch(torch::arange(8, torch::kLong)).at(kImages));
  CHECK(torch::allclose(from_cache, expected, 1e-6, 1e-6));
}

TEST_CASE("a feature cache file is whole, matches its key and size, or is not read", "[loop][feature_cache]") {
  TempDir dir;
  const auto path = dir / "train-key.ftcache";
  const auto activations = torch::randn({5, 2, 3});
  const auto labels = torch::tensor({0, 1, 2, 1, 0}, torch::kLong);
  {
    ft::FeatureCacheWriter unfinished(path, "key", torch::kFloat32, {2, 3}, 5);
    unfinished.append(activations.slice(0, 0, 2), labels.slice(0, 0, 2));
  }  // a run stopped half-way leaves nothing
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()), {}) == 0);
  CHECK_FALSE(ft::open_feature_cache(path, "key", 5));

  ft::FeatureCacheWriter writer(path, "key", torch::kFloat32, {2, 3}, 5);
  writer.append(activations.slice(0, 0, 2), labels.slice(0, 0, 2));
  writer.append(activations.slice(0, 2), labels.slice(0, 2));
  writer.commit();
  const auto cached = ft::open_feature_cache(path, "key", 5);
  REQUIRE(cached);
  CHECK(torch::equal(cached->inputs, activations));
  CHECK(torch::equal(cached->labels, labels));
  CHECK_FALSE(ft::open_feature_cache(path, "other key", 5));
  CHECK_FALSE(ft::open_feature_cache(path, "key", 6));
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 8);
  CHECK_FALSE(ft::open_feature_cache(path, "key", 5));
}

TEST_CASE("a feature cache on disk is reused when it matches its images, and made again when not",
          "[loop][feature_cache]") {
  TempDir dir;
  auto split = std::make_shared<MemorySplit>(8);
  ft::BatchSource train(split, tiny_info(), c10::Device(c10::kCPU));
  auto model = tiny_model();
  model->freeze({"*"});
  ft::FeatureCacheRequest request;
  request.stages = ft::Classifier::kWholeBackbone;
  request.tier = ft::FeatureCacheTier::disk;
  request.batch_size = 3;
  request.file = dir / "train.ftcache";
  const auto weights = ft::frozen_stages_fingerprint(*model, request.stages);
  request.key = ft::feature_cache_key(weights, request.stages, "data", "fp32", "fp32", false);
  const auto all = torch::arange(8, torch::kLong);

  const auto made = ft::cache_features(*model, train, request);
  CHECK_FALSE(made.reused);
  const auto expected = made.source.batch(all).at(kImages);  // a copy: the mapped file is changed below
  REQUIRE(std::filesystem::exists(request.file));
  const auto again = ft::cache_features(*model, train, request);
  CHECK(again.reused);
  CHECK(torch::equal(again.source.batch(all).at(kImages), expected));
  CHECK(torch::equal(again.source.batch(all).at(kLabels), made.source.batch(all).at(kLabels)));

  // Other weights or data make another key; the same key over changed images is caught by the sample check.
  CHECK(ft::feature_cache_key(weights, request.stages, "other data", "fp32", "fp32", false) != request.key);
  {
    std::fstream file(request.file, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096);
    const float changed[2] = {100.0f, -100.0f};
    file.write(reinterpret_cast<const char*>(changed), sizeof changed);
  }
  const auto remade = ft::cache_features(*model, train, request);
  CHECK_FALSE(remade.reused);
  CHECK(torch::equal(remade.source.batch(all).at(kImages), expected));
}

TEST_CASE("the weight average follows timm's update, swaps in for evaluation, and survives a checkpoint",
          "[loop][ema]") {
  auto model = tiny_model();
  torch::NoGradGuard no_grad;
  const auto weight = model->named_parameters()["backbone.linear.weight"];
  const auto start = weight.clone();
  ft::WeightAverage average(*model, 0.9, /*warmup=*/false);
  weight.add_(1.0);
  average.update(1);
  // average = 0.9 * start + 0.1 * (start + 1)
  average.swap();
  CHECK(torch::allclose(weight, start + 0.1, 1e-6, 1e-6));
  average.swap();
  CHECK(torch::allclose(weight, start + 1.0, 1e-6, 1e-6));

  ft::TensorMap checkpoint;
  average.save(checkpoint);
  ft::WeightAverage restored(*model, 0.9, false);
  restored.load(checkpoint);
  restored.swap();
  CHECK(torch::allclose(weight, start + 0.1, 1e-6, 1e-6));
  restored.swap();
  CHECK_THROWS_WITH(restored.load({}), Catch::Contains("no weight average"));

  // Warm-up: 1 - (1 + step)^(-2/3), capped at the decay.
  ft::WeightAverage warming(*model, 0.999, /*warmup=*/true);
  CHECK(warming.decay_at(1) == Approx(1 - std::pow(2.0, -2.0 / 3.0)));
  CHECK(warming.decay_at(1000000000) == Approx(0.999));
}
