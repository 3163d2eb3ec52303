#include "config/core_keys.h"

#include "config/config_tree.h"
#include "config/join.h"
#include "config/nearest_key.h"
#include "config/plugin_kinds.h"
#include "store/reports.h"

#include <algorithm>
#include <cmath>

namespace ft {
namespace {

template <class T>
using Check = std::function<std::string(const T&)>;
using Applies = std::function<bool(const RunConfig&)>;

template <class T>
std::string type_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "boolean";
  else if constexpr (std::is_integral_v<T>)
    return "integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "string";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>)
    return "array of strings";
  else
    return "array of integers";
}

// A key stored in one RunConfig field. `access` returns the field of a run (const or not); T is the key's TOML
// type, which may be wider than the field (the seed is written as an integer, kept unsigned).
template <class T, class Access>
CoreKey key(std::string section, std::string name, std::string doc, Access access, Check<T> check = {},
            Applies applies = {}) {
  CoreKey out;
  out.section = std::move(section);
  out.name = name;
  out.type = type_name<T>();
  out.doc = std::move(doc);
  out.applies = std::move(applies);
  out.read = [name, access, check](const Params& params, RunConfig& run) {
    auto& field = access(run);
    using Field = std::remove_reference_t<decltype(field)>;
    const T value = params.get<T>(name, static_cast<T>(field));
    if constexpr (std::is_floating_point_v<T>) {
      // TOML allows inf; no core number means anything by it (an infinite timeout or rate is a typo or a test).
      if (!std::isfinite(value))
        params.fail(name, std::string("must be a finite number, got ") + (value > 0 ? "inf" : "-inf"));
    }
    if (check) {
      if (const std::string problem = check(value); !problem.empty()) params.fail(name, problem);
    }
    field = static_cast<Field>(value);
  };
  out.value = [access](const RunConfig& run) -> std::optional<ParamValue> {
    return to_param_value(static_cast<T>(access(run)));
  };
  const RunConfig defaults;  // its members hold the defaults (experiment.h)
  out.default_text = to_toml_value(*out.value(defaults));
  return out;
}

// A key read by hand: `read` and `value` are given whole.
CoreKey custom(std::string section, std::string name, std::string type, std::string default_text, std::string doc,
               std::function<void(const Params&, RunConfig&)> read,
               std::function<std::optional<ParamValue>(const RunConfig&)> value, Applies applies = {}) {
  return {std::move(section), std::move(name),    std::move(type), std::move(default_text),
          std::move(doc),     std::move(applies), std::move(read), std::move(value)};
}

template <class T>
Check<T> positive() {
  return [](const T& value) { return value > 0 ? "" : "must be positive, got " + std::to_string(value); };
}

template <class T>
Check<T> not_negative(std::string what) {
  return [what](const T& value) { return value >= 0 ? "" : what; };
}

Check<std::string> one_of(std::vector<std::string> allowed) {
  return [allowed](const std::string& value) -> std::string {
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return "";
    return "expected one of " + join(allowed) + ", got \"" + value + "\"" + did_you_mean(value, allowed);
  };
}

// `train.monitor`: the loss or a task metric of the training or validation split. Which metrics a task has is known
// once its plugin is loaded; the runner checks the name against it (runner/run_checks.cpp).
std::string monitor_check(const std::string& value) {
  const bool split = value.rfind("val_", 0) == 0 || value.rfind("train_", 0) == 0;
  const std::string name = split ? value.substr(value.find('_') + 1) : std::string();
  const bool word = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
  // Every task reports loss, and the built-in ones accuracy or perplexity: a near miss of those is a typo now, the
  // other names are checked against the task when the run is built.
  const std::vector<std::string> common = {"loss", "accuracy", "perplexity"};
  const bool typo =
      std::find(common.begin(), common.end(), name) == common.end() && !did_you_mean(name, common).empty();
  if (word && !typo) return "";
  std::vector<std::string> examples;
  for (const auto& metric : common) examples.insert(examples.end(), {"val_" + metric, "train_" + metric});
  return "expected val_ or train_ and the loss or a metric of the task (" + join(examples) + ", ...), got \"" + value +
         "\"" + did_you_mean(value, examples);
}

Applies schedule_is(std::vector<std::string> types) {
  return
      [types](const RunConfig& run) { return std::find(types.begin(), types.end(), run.schedule.type) != types.end(); };
}

// Not part of the run itself (where it is stored, where plugins come from): read for its type, not recorded.
CoreKey plan_key(std::string name, std::string type, std::string doc, bool is_list) {
  return custom(
      "experiment", name, std::move(type), is_list ? "[]" : "none", std::move(doc),
      [name, is_list](const Params& params, RunConfig&) {
        if (is_list)
          params.optional<std::vector<std::string>>(name);
        else
          params.optional<std::string>(name);
      },
      [](const RunConfig&) { return std::nullopt; });
}

// A component's `type`, which picks the plugin; its position is kept for messages about the component.
template <class Access>
CoreKey component_type(std::string section, Access component, std::string doc) {
  const PluginKind* kind = find_plugin_kind(section);
  const std::string fallback = kind ? kind->default_type : std::string();
  return custom(
      section, "type", "string", fallback.empty() ? std::string("required") : "\"" + fallback + "\"", std::move(doc),
      [component, fallback](const Params& params, RunConfig& run) {
        auto& target = component(run);
        if (fallback.empty()) {
          target.type = params.required<std::string>("type");
          target.where = params.find("type")->where;
        } else {
          target.type = params.get<std::string>("type", fallback);
          const ParamValue* written = params.find("type");
          target.where = written ? written->where : params.where();
        }
      },
      [component](const RunConfig& run) { return std::optional<ParamValue>(to_param_value(component(run).type)); });
}

// The augmentations `dataset.augment` may list, in the order they run, and the switch each sets.
const std::vector<std::pair<std::string, bool AugmentConfig::*>> kAugmentSwitches = {
    {"random_resized_crop", &AugmentConfig::random_resized_crop},
    {"random_crop", &AugmentConfig::random_crop},
    {"hflip", &AugmentConfig::hflip},
    {"trivial_augment", &AugmentConfig::trivial_augment},
    {"rand_augment", &AugmentConfig::rand_augment},
    {"color_jitter", &AugmentConfig::color_jitter},
    {"random_erasing", &AugmentConfig::random_erasing}};

std::vector<std::string> augmentation_names() {
  std::vector<std::string> names;
  for (const auto& entry : kAugmentSwitches) names.push_back(entry.first);
  return names;
}

std::vector<CoreKey> make_core_keys() {
  const auto device_check = [](const std::string& device) -> std::string {
    const bool cuda_index =
        device.rfind("cuda:", 0) == 0 && device.size() > 5 && std::all_of(device.begin() + 5, device.end(), ::isdigit);
    if (device == "auto" || device == "cpu" || device == "cuda" || cuda_index) return "";
    return "expected \"auto\", \"cpu\", \"cuda\" or \"cuda:N\", got \"" + device + "\"";
  };
  const std::vector<std::string> schedules = {"constant", "step", "multistep", "cosine", "onecycle", "plateau"};
  return {
      custom(
          "experiment", "name", "string", "required", "runs are listed and filtered by it",
          [](const Params& params, RunConfig& run) { run.name = params.required<std::string>("name"); },
          [](const RunConfig& run) { return std::optional<ParamValue>(to_param_value(run.name)); }),
      key<std::int64_t>(
          "experiment", "seed", "seeds LibTorch, data order and dataset subsets",
          [](auto& run) -> auto& { return run.seed; }, not_negative<std::int64_t>("must not be negative")),
      key<std::string>(
          "experiment", "device", "`auto` (CUDA if a GPU is visible, else CPU), `cpu`, `cuda` or `cuda:N`",
          [](auto& run) -> auto& { return run.device; }, device_check),
      key<std::int64_t>(
          "experiment", "threads",
          "CPU threads; 0 = `OMP_NUM_THREADS` when set, else the physical cores the process may run on (its CPU "
          "affinity: a Slurm job's or `taskset`'s share), divided between the processes of a data-parallel run on one "
          "machine",
          [](auto& run) -> auto& { return run.threads; },
          not_negative<std::int64_t>("must be 0 (OMP_NUM_THREADS, else the physical cores) or positive")),
      key<std::string>(
          "experiment", "precision", "`fp32`, `bf16` (autocast) or `fp16` (autocast with dynamic loss scaling)",
          [](auto& run) -> auto& { return run.precision; }, one_of({"fp32", "bf16", "fp16"})),
      key<bool>(
          "experiment", "channels_last", "channels-last memory layout for images and 4-d weights",
          [](auto& run) -> auto& { return run.channels_last; }),
      plan_key("store", "string", "the results store; see docs/cli.md for the order of precedence", false),
      plan_key("plugin_paths", "array of strings", "folders searched for plugin `*.so` files, before the built-in ones",
               true),
      plan_key("plugins", "array of strings", "plugin libraries that must load (an error if one does not)", true),

      component_type(
          "backbone", [](auto& run) -> auto& { return run.backbone; },
          "a registered backbone type; any key not listed here goes to the plugin"),
      custom(
          "backbone", "weights", "string", "none",
          "initial weights: a `.safetensors` file, an ftrun checkpoint, `run:<id>` or `stage:<name>`",
          [](const Params& params, RunConfig& run) {
            run.backbone.weights = params.get<std::string>("weights", "");
            const ParamValue* written = params.find("weights");
            run.backbone.weights_where = written ? written->where : params.where();
          },
          // Not recorded when absent: "no weights" is what the resolved run says by leaving the key out.
          [](const RunConfig& run) -> std::optional<ParamValue> {
            if (run.backbone.weights.empty()) return std::nullopt;
            return to_param_value(run.backbone.weights);
          }),
      key<std::vector<std::string>>(
          "backbone", "freeze",
          "parameter-name prefixes to freeze (`layer1` freezes `layer1.0.conv1.weight`); "
          "`*` freezes the whole backbone",
          [](auto& run) -> auto& { return run.backbone.freeze; }),
      key<double>(
          "backbone", "lr_mult",
          "backbone learning rate = optimizer lr x lr_mult; 0 freezes the whole backbone, as `freeze = [\"*\"]`",
          [](auto& run) -> auto& { return run.backbone.lr_mult; }, not_negative<double>("must not be negative")),
      key<double>(
          "backbone", "layer_decay", "each backbone stage learns this factor slower than the next one; 1 = off",
          [](auto& run) -> auto& { return run.backbone.layer_decay; },
          [](const double& value) { return value > 0 && value <= 1 ? "" : "must be in (0, 1]"; }),

      component_type(
          "dataset", [](auto& run) -> auto& { return run.dataset; },
          "a registered dataset type; any key not listed here goes to the plugin"),
      custom(
          "dataset", "augment", "array of strings", "[]",
          "augmentations of training batches, done by the core on the device: `random_resized_crop`, "
          "`random_crop`, `hflip`, `trivial_augment`, `rand_augment`, `color_jitter`, `random_erasing`",
          [](const Params& params, RunConfig& run) {
            for (const auto& name : params.get<std::vector<std::string>>("augment", {})) {
              const auto found = std::find_if(kAugmentSwitches.begin(), kAugmentSwitches.end(),
                                              [&](const auto& entry) { return entry.first == name; });
              if (found == kAugmentSwitches.end()) {
                const auto known = augmentation_names();
                params.fail("augment", "unknown augmentation '" + name + "'" + did_you_mean(name, known) +
                                           " (known: " + join(known) + ")");
              }
              run.augment.*(found->second) = true;
            }
          },
          [](const RunConfig& run) {
            std::vector<std::string> names;
            for (const auto& [name, on] : kAugmentSwitches) {
              if (run.augment.*on) names.push_back(name);
            }
            return std::optional<ParamValue>(to_param_value(names));
          }),
      key<std::int64_t>(
          "dataset", "crop_padding", "`random_crop` pads by this many black pixels on each side, then crops back",
          [](auto& run) -> auto& { return run.augment.crop_padding; },
          [](const std::int64_t& value) { return value >= 1 ? "" : "must be at least 1"; }),
      key<std::int64_t>(
          "dataset", "rand_augment_ops", "`rand_augment` applies this many operations to each image (2)",
          [](auto& run) -> auto& { return run.augment.rand_augment_ops; }, positive<std::int64_t>()),
      key<std::int64_t>(
          "dataset", "rand_augment_magnitude", "`rand_augment`'s magnitude, a bin of 0..30 (9)",
          [](auto& run) -> auto& { return run.augment.rand_augment_magnitude; },
          [](const std::int64_t& value) {
            return value >= 0 && value <= 30 ? "" : std::string("must be between 0 and 30");
          }),
      key<double>(
          "dataset", "jitter_strength",
          "`color_jitter` scales brightness, contrast and saturation by factors in [1 - s, 1 + s] (timm's 0.4)",
          [](auto& run) -> auto& { return run.augment.jitter_strength; },
          [](const double& value) { return value > 0 && value < 1 ? "" : std::string("must be in (0, 1)"); }),
      key<double>(
          "dataset", "erasing_prob", "`random_erasing` erases a box from this share of images (timm's 0.25)",
          [](auto& run) -> auto& { return run.augment.erasing_prob; },
          [](const double& value) { return value > 0 && value <= 1 ? "" : std::string("must be in (0, 1]"); }),

      component_type(
          "task", [](auto& run) -> auto& { return run.task; },
          "a registered task type: `classification` (cross-entropy, accuracy), `masked_lm` (BERT's masked "
          "language model, perplexity) or `detection` (boxes, COCO's mAP); any other key goes to the plugin"),
      component_type(
          "head", [](auto& run) -> auto& { return run.head; },
          "a registered head type; any other key goes to the plugin"),
      custom(
          "head", "weights", "string", "none",
          "initial weights of the head: a `.safetensors` file or an ftrun checkpoint whose `head.*` tensors it starts "
          "from; a tensor of another shape (the class logits of another set of classes) starts new",
          [](const Params& params, RunConfig& run) {
            run.head.weights = params.get<std::string>("weights", "");
            const ParamValue* written = params.find("weights");
            run.head.weights_where = written ? written->where : params.where();
          },
          [](const RunConfig& run) -> std::optional<ParamValue> {
            if (run.head.weights.empty()) return std::nullopt;
            return to_param_value(run.head.weights);
          }),
      component_type(
          "optimizer", [](auto& run) -> auto& { return run.optimizer; },
          "a registered optimizer type; any other key (`lr`, `weight_decay`, ...) goes to the plugin"),

      key<std::int64_t>(
          "train", "epochs", "passes over the training split", [](auto& run) -> auto& { return run.train.epochs; },
          positive<std::int64_t>()),
      key<std::int64_t>(
          "train", "batch_size", "images per micro-batch", [](auto& run) -> auto& { return run.train.batch_size; },
          positive<std::int64_t>()),
      key<std::int64_t>(
          "train", "eval_batch_size", "batch size for validation and test (no gradients are kept)",
          [](auto& run) -> auto& { return run.train.eval_batch_size; }, positive<std::int64_t>()),
      key<std::int64_t>(
          "train", "eval_every", "validate every N epochs, and always after the last",
          [](auto& run) -> auto& { return run.train.eval_every; }, positive<std::int64_t>()),
      key<bool>(
          "train", "test", "evaluate the test split after the last epoch, if the dataset has one",
          [](auto& run) -> auto& { return run.train.test; }),
      key<std::int64_t>(
          "train", "loader_threads", "threads decoding batches ahead for datasets not held in memory",
          [](auto& run) -> auto& { return run.train.loader_threads; },
          not_negative<std::int64_t>("must be 0 (decode on the training thread) or more")),
      key<std::int64_t>(
          "train", "accumulate", "micro-batches whose gradients are summed per optimizer step",
          [](auto& run) -> auto& { return run.train.accumulate; }, positive<std::int64_t>()),
      key<double>(
          "train", "clip_grad_norm", "clip the global gradient norm to this before each step; 0 = off",
          [](auto& run) -> auto& { return run.train.clip_grad_norm; },
          not_negative<double>("must be 0 (off) or positive")),
      key<std::string>(
          "train", "monitor",
          "the metric that picks `best.pt`, stops early and drives `plateau`: `val_loss`, `train_loss`, or "
          "`val_`/`train_` and one of the task's metrics (`val_accuracy`, `val_perplexity`)",
          [](auto& run) -> auto& { return run.train.monitor; }, monitor_check),
      key<std::string>(
          "train", "monitor_mode",
          "`auto` (lower is better for losses, the task's own direction for its metrics), `min` or `max`",
          [](auto& run) -> auto& { return run.train.monitor_mode; }, one_of({"auto", "min", "max"})),
      key<std::int64_t>(
          "train", "patience", "stop after this many evaluations without improvement; 0 = never",
          [](auto& run) -> auto& { return run.train.patience; },
          not_negative<std::int64_t>("must be 0 (no early stopping) or positive")),
      key<double>(
          "train", "min_delta", "smallest change of `monitor` that counts as an improvement",
          [](auto& run) -> auto& { return run.train.min_delta; }),
      key<std::string>(
          "train", "test_weights", "the weights the test split is evaluated with: `best` (best.pt) or `last`",
          [](auto& run) -> auto& { return run.train.test_weights; }, one_of({"best", "last"})),
      key<std::int64_t>(
          "train", "log_every", "read losses back from the device every N steps (and at each epoch's end)",
          [](auto& run) -> auto& { return run.train.log_every; }, positive<std::int64_t>()),
      key<bool>(
          "train", "cuda_graph",
          "capture each micro-batch's forward and backward in a CUDA graph and replay it (CUDA, one process)",
          [](auto& run) -> auto& { return run.train.cuda_graph; }),
      key<std::string>(
          "train", "feature_cache",
          "with a frozen prefix of the backbone and no augmentation, compute its activations once per image: "
          "`auto` (in memory or a file, within budget), `memory`, `disk` (a file reused by later runs), `off`",
          [](auto& run) -> auto& { return run.train.feature_cache; }, one_of({"auto", "memory", "disk", "off"})),
      key<std::string>(
          "train", "feature_cache_dtype", "cached features as `fp32` (exact) or `bf16` (half the memory)",
          [](auto& run) -> auto& { return run.train.feature_cache_dtype; }, one_of({"fp32", "bf16"})),
      key<double>(
          "train", "ema_decay",
          "keep an exponential moving average of the weights with this decay after every step (timm's 0.9998); "
          "0 = off",
          [](auto& run) -> auto& { return run.train.ema_decay; },
          [](const double& value) { return value >= 0 && value < 1 ? "" : std::string("must be in [0, 1)"); }),
      key<bool>(
          "train", "ema_warmup", "let the average's decay rise as 1 - (1 + step)^(-2/3) up to `ema_decay`",
          [](auto& run) -> auto& { return run.train.ema_warmup; }),
      key<bool>(
          "train", "ema_evaluate",
          "validate on the average, so `best.pt` and the test use it (false: the trained weights)",
          [](auto& run) -> auto& { return run.train.ema_evaluate; }),

      key<std::string>(
          "schedule", "type", "`constant`, `step`, `multistep`, `cosine`, `onecycle` or `plateau`",
          [](auto& run) -> auto& { return run.schedule.type; }, one_of(schedules)),
      key<double>(
          "schedule", "warmup_epochs", "linear warm-up first, in epochs (fractions allowed)",
          [](auto& run) -> auto& { return run.schedule.warmup_epochs; }, not_negative<double>("must not be negative")),
      key<double>(
          "schedule", "warmup_start", "factor on the learning rate at the first warm-up step",
          [](auto& run) -> auto& { return run.schedule.warmup_start; }),
      key<std::int64_t>(
          "schedule", "step_size", "`step`: decay every step_size epochs",
          [](auto& run) -> auto& { return run.schedule.step_size; }, positive<std::int64_t>(), schedule_is({"step"})),
      custom(
          "schedule", "milestones", "array of integers", "required", "`multistep`: epochs at which to decay",
          [](const Params& params, RunConfig& run) {
            run.schedule.milestones = params.required<std::vector<std::int64_t>>("milestones");
          },
          [](const RunConfig& run) { return std::optional<ParamValue>(to_param_value(run.schedule.milestones)); },
          schedule_is({"multistep"})),
      key<double>(
          "schedule", "gamma", "`step`, `multistep`: decay factor",
          [](auto& run) -> auto& { return run.schedule.gamma; }, {}, schedule_is({"step", "multistep"})),
      key<double>(
          "schedule", "min_factor", "`cosine`: final factor",
          [](auto& run) -> auto& { return run.schedule.min_factor; }, {}, schedule_is({"cosine"})),
      key<double>(
          "schedule", "pct_start", "`onecycle`: share of the steps spent rising",
          [](auto& run) -> auto& { return run.schedule.pct_start; },
          [](const double& value) { return value > 0 && value < 1 ? "" : "must be in (0, 1)"; },
          schedule_is({"onecycle"})),
      key<double>(
          "schedule", "div_factor", "`onecycle`: peak / initial",
          [](auto& run) -> auto& { return run.schedule.div_factor; }, {}, schedule_is({"onecycle"})),
      key<double>(
          "schedule", "final_div_factor", "`onecycle`: initial / final",
          [](auto& run) -> auto& { return run.schedule.final_div_factor; }, {}, schedule_is({"onecycle"})),
      key<double>(
          "schedule", "factor", "`plateau`: decay factor on a plateau",
          [](auto& run) -> auto& { return run.schedule.plateau_factor; }, {}, schedule_is({"plateau"})),
      key<std::int64_t>(
          "schedule", "patience", "`plateau`: evaluations without improvement before decaying",
          [](auto& run) -> auto& { return run.schedule.plateau_patience; }, {}, schedule_is({"plateau"})),

      key<std::string>(
          "distributed", "backend",
          "collectives when launched on several processes: `auto` (NCCL on CUDA, Gloo on the CPU), `gloo`, `nccl`",
          [](auto& run) -> auto& { return run.distributed.backend; }, one_of({"auto", "gloo", "nccl"})),
      key<double>(
          "distributed", "timeout", "seconds to wait for the other processes, at the start and in any collective",
          [](auto& run) -> auto& { return run.distributed.timeout; },
          [](const double& value) { return value > 0 ? "" : "must be positive"; }),
  };
}

}  // namespace

const std::vector<CoreKey>& core_keys() {
  static const std::vector<CoreKey> keys = make_core_keys();
  return keys;
}

const std::vector<std::string>& core_key_sections() {
  static const std::vector<std::string> sections = [] {
    std::vector<std::string> names = {"experiment"};
    for (const auto& kind : plugin_kinds()) {
      if (kind.count == KindCount::one) names.push_back(kind.name);
    }
    names.insert(names.end(), {"train", "schedule", "distributed"});
    return names;
  }();
  return sections;
}

std::string core_keys_markdown() {
  std::string out = "| key | type | default | meaning |\n| --- | --- | --- | --- |\n";
  for (const auto& key : core_keys()) {
    out += "| `" + key.section + "." + key.name + "` | " + key.type + " | " +
           (key.default_text == "required" || key.default_text == "none" ? key.default_text
                                                                         : "`" + key.default_text + "`") +
           " | " + key.doc + " |\n";
  }
  return out;
}

}  // namespace ft
