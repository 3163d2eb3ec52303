#include "runner/trainer.h"

#include "data/batch_source.h"
#include "distributed/gradient_sync.h"
#include "distributed/process_group.h"
#include "log/log.h"
#include "loop/callbacks/best_checkpoint.h"
#include "loop/callbacks/early_stopping.h"
#include "loop/callbacks/metric_recorder.h"
#include "loop/callbacks/progress_reporter.h"
#include "loop/callbacks/run_hooks_callback.h"
#include "loop/callbacks/schedule_callback.h"
#include "loop/callbacks/test_evaluation.h"
#include "loop/feature_cache.h"
#include "loop/train_step.h"
#include "loop/training_loop.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>

namespace ft {

std::string monitor_direction(const Task& task, const std::string& monitor, const std::string& mode) {
  if (mode != "auto") return mode;
  const std::string name = monitor.substr(monitor.find('_') + 1);
  if (name == "loss") return "min";
  for (const auto& metric : task.metrics()) {
    if (metric.name == name) return metric.higher_is_better ? "max" : "min";
  }
  return "max";
}

class Trainer::Impl {
 public:
  explicit Impl(TrainerSetup setup) : s_(std::move(setup)) {}

  void fit() {
    const bool leader = !s_.group || s_.group->leader();
    BatchSource train(s_.train, s_.info, s_.device, s_.channels_last);
    std::unique_ptr<BatchSource> validation, test;
    if (s_.validation) validation = std::make_unique<BatchSource>(s_.validation, s_.info, s_.device, s_.channels_last);
    if (s_.test && s_.config.test) test = std::make_unique<BatchSource>(s_.test, s_.info, s_.device, s_.channels_last);

    CachedInputs cached_inputs(*s_.model);
    use_feature_cache(train, validation.get(), test.get(), leader);

    std::unique_ptr<GradientSync> sync;
    if (s_.group) sync = std::make_unique<GradientSync>(*s_.group, s_.model->parameters());
    TrainStep step({s_.model, s_.task, s_.optimizer, s_.regularizations, s_.device, s_.precision,
                    s_.config.clip_grad_norm, sync.get(), s_.config.cuda_graph});

    std::unique_ptr<WeightAverage> average;
    if (s_.config.ema_decay > 0) {
      average = std::make_unique<WeightAverage>(*s_.model, s_.config.ema_decay, s_.config.ema_warmup);
    }

    LoopSetup loop;
    loop.average = average.get();
    loop.model = s_.model;
    loop.step = &step;
    loop.train = &train;
    loop.validation = validation.get();
    loop.config = s_.config;
    // The learning-rate test judges every step's loss, so every step is read back.
    if (s_.after_step) loop.config.log_every = 1;
    loop.augment = s_.augment;
    loop.seed = s_.seed;
    loop.evaluation = {s_.task, s_.config.eval_batch_size, s_.config.loader_threads, s_.precision,
                       s_.task_keeps_tables};
    loop.group = s_.group;

    LoopState state;
    state.group_names = s_.group_names;
    for (const auto& metric : s_.task->metrics()) state.metrics.push_back(metric.name);
    state.leader = leader;
    state.monitor = s_.config.monitor;
    if (!validation && state.monitor.rfind("val_", 0) == 0) {
      state.monitor = "train" + state.monitor.substr(3);
      if (leader) log::warn("no validation split: monitoring " + state.monitor + " instead of " + s_.config.monitor);
    }
    TrainingLoop training(loop, state);

    // In event order. The test evaluation comes first so the recorder, after it, writes its rows at the end; the
    // recorder comes before the pruner, which reads the epoch's rows from the store; the best checkpoint judges
    // improvement before early stopping and the plateau schedule use it.
    BestCheckpoint checkpoints(*s_.model, s_.checkpoint_dir,
                               monitor_direction(*s_.task, state.monitor, s_.config.monitor_mode), s_.config.min_delta,
                               s_.on_checkpoint);
    std::unique_ptr<TestEvaluation> test_evaluation;
    if (test) {
      test_evaluation = std::make_unique<TestEvaluation>(*s_.model, *test, loop.evaluation, s_.config.test_weights,
                                                         checkpoints.best_path(), s_.group);
    }
    MetricRecorder recorder(leader && s_.record ? s_.record : [](const std::vector<MetricRow>&) {});
    ProgressReporter progress;
    RunHooksCallback hooks(s_.prune, s_.after_step);
    EarlyStopping early_stopping(s_.config.patience);
    ScheduleCallback schedule(*s_.optimizer, s_.schedule, training.state().steps_per_epoch, s_.config.epochs);

    if (test_evaluation) training.add(*test_evaluation);
    training.add(recorder);
    if (leader) training.add(progress);
    for (Callback* callback : std::initializer_list<Callback*>{&hooks, &checkpoints, &early_stopping, &schedule}) {
      training.add(*callback);
    }
    training.run(s_.resume);
  }

 private:
  // Sets the model to take cached activations instead of images while alive.
  struct CachedInputs {
    Classifier& model;
    explicit CachedInputs(Classifier& m) : model(m) {}
    ~CachedInputs() { model.set_inputs_after(0); }
  };

  // Replaces the splits' images by the frozen stages' activations when the plan allows it (loop/feature_cache.h).
  void use_feature_cache(BatchSource& train, BatchSource* validation, BatchSource* test, bool leader) {
    // The cache holds one activation per image; a detection head reads the backbone's whole pyramid.
    if (s_.task->feature_shape() == FeatureShape::pyramid) return;
    std::string folder = s_.feature_cache_dir;
    if (s_.group) folder = s_.group->share_text("feature_cache_dir", folder);
    const std::int64_t examples = train.size() + (validation ? validation->size() : 0) + (test ? test->size() : 0);
    const FeatureCachePlan plan = plan_feature_cache(s_.config, s_.augment, *s_.model, s_.regularizations, train,
                                                     examples, feature_cache_budget(s_.device, folder));
    if (!plan.use) {
      // Said only where something is frozen, or the cache was asked for: other runs need no reason.
      const bool asked =
          s_.config.feature_cache == "memory" || s_.config.feature_cache == "disk" || s_.model->has_frozen_modules();
      if (leader && asked && !plan.reason.empty()) log::info(plan.reason);
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    FeatureCacheRequest request;
    request.stages = plan.stages;
    request.tier = plan.tier;
    request.device = s_.device;
    request.dtype = s_.config.feature_cache_dtype;
    request.precision = s_.precision;
    request.batch_size = s_.config.eval_batch_size;
    request.loader_threads = s_.config.loader_threads;
    std::vector<std::string> reused;
    // The frozen weights are hashed once; each split's key adds its own name.
    const std::string weights = frozen_stages_fingerprint(*s_.model, plan.stages);
    auto cache = [&](BatchSource& source, const std::string& split) {
      request.key = feature_cache_key(weights, plan.stages, fmt::format("{}|split {}", s_.data_identity, split),
                                      request.dtype, request.precision, s_.channels_last);
      request.file = folder.empty()
                         ? std::string()
                         : (std::filesystem::path(folder) / (split + "-" + request.key + ".ftcache")).string();
      CachedSplit cached = cache_features(*s_.model, source, request);
      source = std::move(cached.source);
      if (cached.reused) reused.push_back(request.file);
    };
    cache(train, "train");
    if (validation) cache(*validation, "validation");
    if (test) cache(*test, "test");
    s_.model->set_inputs_after(plan.stages);
    if (!leader) return;
    const std::string what = plan.stages == Classifier::kWholeBackbone
                                 ? std::string("the frozen backbone")
                                 : fmt::format("the backbone's {} frozen stage(s)", plan.stages);
    static const char* const kTiers[] = {"in device memory", "in host memory", "in a file"};
    const std::string where = kTiers[static_cast<int>(plan.tier)];
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!reused.empty()) {
      log::info(fmt::format("feature cache: reused the activations of {} from {} ({:.1f} MB, {}, {}, {:.1f} s)", what,
                            fmt::join(reused, ", "), plan.bytes / 1e6, s_.config.feature_cache_dtype, where, seconds));
    } else {
      log::info(
          fmt::format("feature cache: {} ran once over {} images ({:.1f} MB, {}, {}{}, {:.1f} s); training runs "
                      "the rest on the cached activations",
                      what, examples, plan.bytes / 1e6, s_.config.feature_cache_dtype, where,
                      plan.tier == FeatureCacheTier::disk ? " under " + folder : std::string(), seconds));
    }
  }

  TrainerSetup s_;
};

Trainer::Trainer(TrainerSetup setup) : impl_(std::make_unique<Impl>(std::move(setup))) {}
Trainer::~Trainer() = default;
void Trainer::fit() { impl_->fit(); }

}  // namespace ft
