#pragma once
// The typed, validated form of an experiment file. Only core/config reads TOML; everything else sees these.

#include "config/monitor_defaults.h"
#include "training/lr_schedule.h"

#include <ftsdk/params.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace ft {

/// A plugin component named in the experiment: its type and the parameters the core does not consume.
struct ComponentConfig {
  std::string type;
  Params params;
  SourceLocation where;
};

struct BackboneConfig : ComponentConfig {
  /// Initial weights: empty (random), a checkpoint file, `run:<id>` or `stage:<name>`.
  std::string weights;
  SourceLocation weights_where;
  /// Parameter-name prefixes to freeze ("layer1" freezes "layer1.0.conv1.weight"); "*" freezes all.
  std::vector<std::string> freeze;
  /// Learning-rate multiplier of the backbone relative to the head.
  double lr_mult = 1.0;
  /// Layer-wise decay: each backbone stage learns this factor slower than the next one (1 = off).
  double layer_decay = 1.0;
};

struct HeadConfig : ComponentConfig {
  /// Initial weights of the head: empty (new), or a `.safetensors` file or ftrun checkpoint whose `head.*` tensors
  /// it starts from (a COCO detector's pyramid and heads, exported by scripts/export_weights.py).
  std::string weights;
  SourceLocation weights_where;
};

/// Augmentation of training batches, done by the core on the device for in-memory datasets
/// (`[dataset] augment = ["random_crop", "hflip"]`).
struct AugmentConfig {
  /// Pad by `crop_padding` black pixels on each side, then crop back to the original size at a random offset.
  bool random_crop = false;
  std::int64_t crop_padding = 4;
  /// Mirror left-right with probability 1/2.
  bool hflip = false;
  /// RandomResizedCrop back to the image's own size (scale 0.08-1, aspect 3/4-4/3), before any other.
  bool random_resized_crop = false;
  /// TrivialAugmentWide: per image one of 14 operations at a random magnitude (data/auto_augment.h).
  bool trivial_augment = false;
  /// RandAugment: per image `rand_augment_ops` operations at bin `rand_augment_magnitude` of 31.
  bool rand_augment = false;
  std::int64_t rand_augment_ops = 2;
  std::int64_t rand_augment_magnitude = 9;
  /// Per image, brightness, contrast and saturation scaled by factors drawn from [1 - s, 1 + s], s =
  /// `jitter_strength` (torchvision's ColorJitter(s, s, s)), in an order drawn per batch.
  bool color_jitter = false;
  double jitter_strength = 0.4;
  /// Per image with probability `erasing_prob`, a random box (2-33 % of the area, aspect 0.3-3.3) takes the
  /// dataset's mean colour: torchvision's RandomErasing after Normalize (value 0).
  bool random_erasing = false;
  double erasing_prob = 0.25;

  /// True when any augmentation is on.
  bool any() const {
    return random_crop || hflip || random_resized_crop || trivial_augment || rand_augment || color_jitter ||
           random_erasing;
  }
};

struct TrainConfig {
  std::int64_t epochs = 1;
  std::int64_t batch_size = 64;
  /// Batch size for validation and test; larger is fine since no gradients are kept.
  std::int64_t eval_batch_size = 256;
  /// Validate every N epochs (and always after the last).
  std::int64_t eval_every = 1;
  /// Evaluate the test split (when the dataset has one) after the last epoch.
  bool test = true;
  /// Threads decoding batches ahead of the model for datasets that are not held in memory.
  std::int64_t loader_threads = 2;
  /// Micro-batches whose gradients are summed before each optimizer step.
  std::int64_t accumulate = 1;
  /// Clip the gradients' global L2 norm to this before each step; 0 = off.
  double clip_grad_norm = 0;
  /// The metric that picks the best checkpoint, stops early and drives the plateau schedule.
  std::string monitor = kDefaultMonitor;
  /// "auto" (lower is better for losses, higher for accuracies), "min" or "max".
  std::string monitor_mode = kDefaultMonitorMode;
  /// Stop after this many evaluations without improvement of `monitor`; 0 = never stop early.
  std::int64_t patience = 0;
  /// Smallest change of `monitor` that counts as an improvement.
  double min_delta = 0;
  /// The weights the test split is evaluated with: "best" (best.pt, when there is one) or "last".
  std::string test_weights = "best";
  /// Read losses back from the device every N optimizer steps (and at each epoch's end).
  std::int64_t log_every = 10;
  /// Replay each micro-batch's forward and backward from a captured CUDA graph (CUDA only).
  bool cuda_graph = false;
  /// Train on a frozen prefix's activations computed once per image: "auto", "memory", "disk" or "off".
  std::string feature_cache = "auto";
  /// How cached features are stored: "fp32" (exact) or "bf16" (half the memory).
  std::string feature_cache_dtype = "fp32";
  /// Decay of the moving average of the weights updated after every step; 0 = none (loop/weight_average.h).
  double ema_decay = 0;
  /// Let the average's decay rise from 0 (timm's warm-up).
  bool ema_warmup = false;
  /// Validate (and so choose best.pt and test) on the average instead of the trained weights.
  bool ema_evaluate = true;
};

/// Data-parallel training over several processes (docs/distributed.md).
struct DistributedConfig {
  /// "auto" (NCCL on CUDA, Gloo on the CPU), "gloo" or "nccl".
  std::string backend = "auto";
  /// Seconds to wait for the other processes, at the start and in any one collective.
  double timeout = 1800;
};

/// One run: the experiment itself, or one of its stages with the stage's overrides applied.
struct RunConfig {
  std::string name;
  /// Stage name; empty when the experiment has no stages.
  std::string stage;
  std::uint64_t seed = 0;
  /// "auto", "cpu" or "cuda" (also "cuda:N").
  std::string device = "auto";
  /// CPU threads; 0 = the machine's physical cores.
  std::int64_t threads = 0;
  /// "fp32", "bf16" (autocast) or "fp16" (autocast with dynamic loss scaling).
  std::string precision = "fp32";
  /// Keep images and 4-d weights in channels-last memory layout (faster convolutions on recent GPUs).
  bool channels_last = false;

  BackboneConfig backbone;
  ComponentConfig dataset;
  AugmentConfig augment;
  /// What the model is trained to do; `classification` when the experiment has no [task].
  ComponentConfig task{"classification", Params("task"), {}};
  HeadConfig head;
  ComponentConfig optimizer;
  std::vector<ComponentConfig> regularizations;
  TrainConfig train;
  ScheduleConfig schedule;
  DistributedConfig distributed;

  /// The fully resolved run as TOML text (what is stored with the run).
  std::string resolved_toml;
  /// Flattened scalar parameters, `optimizer.lr` → value, for the store.
  std::vector<std::pair<std::string, ParamValue>> flat_params;
  /// The keys of flat_params that the experiment did not write: filled in by ftrun or by a plugin's default.
  std::set<std::string> default_keys;
};

/// The component of the plugin kind `kind` (ftsdk/kind_list.h) that a run configures, or nullptr for a kind it lists
/// several of (`regularizations`). A new kind needs a member above and a line in this function: the core code
/// that uses the kind reads that member.
ComponentConfig* component_of(RunConfig& run, const std::string& kind);
const ComponentConfig* component_of(const RunConfig& run, const std::string& kind);

/// Everything one `ftrun` invocation will do: the runs in order, and where to find plugins and the store.
struct ExperimentPlan {
  std::string source_file;
  std::string store_path;
  /// Plugin folders from `[experiment] plugin_paths`.
  std::vector<std::string> plugin_paths;
  /// Plugin files from `[experiment] plugins`.
  std::vector<std::string> plugin_files;
  std::vector<RunConfig> runs;
  /// The file has a [sweep] table: `ftrun sweep` runs it, `ftrun run` refuses it (config/sweep.h).
  bool has_sweep = false;
  /// The group the runs are recorded under; empty: a new group for this invocation.
  std::string group_id;
};

/// A key set to a value, as `--set KEY=VALUE` does, but with the value's own position for messages (a sweep
/// parameter's `file:line:col`).
struct KeyValue {
  std::string key;
  ParamValue value;
};

/// Reads and validates an experiment file. `overrides` are `key=value` strings applied before validation
/// (`optimizer.lr=0.1`, `stage.finetune.train.epochs=3`). Throws ConfigError with `file:line:col` positions.
ExperimentPlan load_experiment(const std::string& path, const std::vector<std::string>& overrides = {});

/// The plan of one recorded run from its stored resolved TOML, for `ftrun resume`: its initial-weights key is
/// dropped (the checkpoint replaces it) and its stage name kept.
ExperimentPlan parse_resolved_run(const std::string& text, const std::string& source_name);

/// Adds the defaults the run's plugins used (`Params::defaults_used`, known once its components are built) to
/// its resolved TOML and flattened parameters, so that the store records every effective value and a resumed
/// run keeps them even if a plugin's default changes.
void record_plugin_defaults(RunConfig& run);

/// Same, from TOML text; `source_name` is used in messages.
ExperimentPlan parse_experiment(const std::string& text, const std::string& source_name,
                                const std::vector<std::string>& overrides = {},
                                const std::vector<KeyValue>& assignments = {});

/// The text of an experiment file, refused with a clear message when it is missing, a folder or far too large.
std::string read_experiment_file(const std::string& path);

}  // namespace ft
