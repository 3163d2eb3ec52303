#include "config/config_tree.h"
#include "config/experiment.h"
#include "config/join.h"
#include "config/nearest_key.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace ft {
namespace {

const std::vector<std::string> kTopLevelKeys = {"experiment",     "backbone", "dataset",  "head", "optimizer",
                                                "regularization", "train",    "schedule", "stage"};
const std::vector<std::string> kStageKeys = {"name",      "backbone",       "dataset", "head",
                                             "optimizer", "regularization", "train",   "schedule"};
const std::vector<std::string> kRequiredSections = {"experiment", "backbone", "dataset", "head", "optimizer"};
const std::vector<std::string> kTableSections = {"experiment", "backbone", "dataset", "head",
                                                 "optimizer",  "train",    "schedule"};
const std::vector<std::string> kTableArraySections = {"regularization", "stage"};
// Files larger than this are not experiments (a typo such as `ftrun /dev/zero` must not read forever).
constexpr std::uintmax_t kMaxExperimentBytes = 1 << 20;

/// Every problem found while reading an experiment, reported together: a user fixing a file wants all its
/// mistakes at once, not one per attempt. Messages are kept once each (a base section read for every stage
/// would otherwise repeat its problems).
class Problems {
 public:
  void add(const std::string& message) {
    if (std::find(messages_.begin(), messages_.end(), message) == messages_.end()) messages_.push_back(message);
  }
  /// Runs `read`, keeping its ConfigError instead of propagating it, so that reading can go on.
  template <class Fn>
  void collect(Fn&& read) {
    try {
      read();
    } catch (const ConfigError& error) {
      add(error.what());
    }
  }
  void throw_if_any() const {
    if (messages_.empty()) return;
    std::string text = join(messages_, "\n");
    if (messages_.size() > 1) text += "\n(" + std::to_string(messages_.size()) + " problems)";
    throw ConfigError(text);
  }

 private:
  std::vector<std::string> messages_;
};

// The problems of the file being read; experiments are read on one thread at a time per call.
thread_local Problems* current_problems = nullptr;

// Every unknown key of `table`, each with its position and the nearest known key.
void reject_unknown_keys(const ConfigTable& table, const std::vector<std::string>& known, const std::string& what) {
  std::vector<std::string> found;
  for (const auto& key : table.keys()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    found.push_back(table.where_of(key).str() + ": unknown key '" + key + "' in " + what + did_you_mean(key, known) +
                    " (known: " + join(known) + ")");
  }
  if (found.empty()) return;
  if (current_problems) {
    for (const auto& message : found) current_problems->add(message);
    return;
  }
  throw ConfigError(join(found, "\n"));
}

// A section written as a value (`schedule = "cosine"`, `--set train=1`) would otherwise be skipped silently.
void check_section_shapes(const ConfigTable& table) {
  for (const auto& name : kTableSections) {
    if (table.values.count(name) || table.table_arrays.count(name)) {
      throw ConfigError(table.where_of(name).str() + ": '" + name + "' must be a table: write [" + name +
                        "] with its keys below it (on the command line: --set " + name + ".KEY=VALUE)");
    }
  }
  for (const auto& name : kTableArraySections) {
    if (table.values.count(name) || table.tables.count(name)) {
      throw ConfigError(table.where_of(name).str() + ": '" + name + "' must be an array of tables: write [[" + name +
                        "]]");
    }
  }
}

/// Reads the core's keys of a section through Params (typed, positioned errors), then rejects what is left
/// (core-only sections) or hands it on as the plugin's parameters (component sections).
class SectionReader {
 public:
  SectionReader(const ConfigTable& table, std::string section)
      : table_(table), section_(std::move(section)), params_(to_params(table, section_)) {
    for (const auto& [key, sub] : table.tables) {
      throw ConfigError(sub.where.str() + ": [" + section_ + "." + key + "]: sub-tables are not allowed here");
    }
  }

  template <class T>
  T get(const std::string& key, T fallback) {
    known_.push_back(key);
    return params_.get<T>(key, fallback);
  }
  template <class T>
  T required(const std::string& key) {
    known_.push_back(key);
    return params_.required<T>(key);
  }
  template <class T>
  T positive(const std::string& key, T fallback) {
    const T value = get<T>(key, fallback);
    if (value <= 0) params_.fail(key, "must be positive, got " + std::to_string(value));
    return value;
  }
  SourceLocation where(const std::string& key) const { return table_.where_of(key); }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const { params_.fail(key, message); }

  /// For sections that belong to the core alone.
  void finish() const { reject_unknown_keys(table_, known_, "[" + section_ + "]"); }

  /// For component sections: the keys the core did not read, for the plugin.
  Params plugin_params() const {
    Params out(section_, table_.where);
    for (const auto& [key, value] : table_.values) {
      if (std::find(known_.begin(), known_.end(), key) == known_.end()) out.set(key, value);
    }
    return out;
  }

 private:
  const ConfigTable& table_;
  std::string section_;
  Params params_;
  std::vector<std::string> known_;
};

ComponentConfig read_component(SectionReader& reader, const ConfigTable& table) {
  ComponentConfig component;
  component.type = reader.required<std::string>("type");
  component.where = table.where_of("type");
  return component;
}

ComponentConfig read_plain_component(const ConfigTable& table, const std::string& section) {
  SectionReader reader(table, section);
  ComponentConfig component = read_component(reader, table);
  component.params = reader.plugin_params();
  return component;
}

const ConfigTable& section(const ConfigTable& root, const std::string& name, const std::string& file) {
  auto it = root.tables.find(name);
  if (it == root.tables.end()) {
    if (root.values.count(name) || root.table_arrays.count(name)) {
      throw ConfigError(root.where_of(name).str() + ": '" + name + "' must be a table: write [" + name + "]");
    }
    throw ConfigError(file + ":1:1: missing required section [" + name + "]");
  }
  return it->second;
}

void check_device(SectionReader& reader, const std::string& device) {
  const bool cuda_index =
      device.rfind("cuda:", 0) == 0 && device.size() > 5 && std::all_of(device.begin() + 5, device.end(), ::isdigit);
  if (device != "auto" && device != "cpu" && device != "cuda" && !cuda_index) {
    reader.fail("device", "expected \"auto\", \"cpu\", \"cuda\" or \"cuda:N\", got \"" + device + "\"");
  }
}

ScheduleConfig read_schedule(const ConfigTable& table) {
  SectionReader reader(table, "schedule");
  ScheduleConfig schedule;  // its members hold the defaults
  const std::vector<std::string> types = {"constant", "step", "multistep", "cosine", "onecycle", "plateau"};
  schedule.type = reader.required<std::string>("type");
  if (std::find(types.begin(), types.end(), schedule.type) == types.end()) {
    reader.fail("type", "unknown schedule '" + schedule.type + "'" + did_you_mean(schedule.type, types) +
                            " (known: " + join(types) + ")");
  }
  schedule.warmup_epochs = reader.get<double>("warmup_epochs", schedule.warmup_epochs);
  schedule.warmup_start = reader.get<double>("warmup_start", schedule.warmup_start);
  if (schedule.warmup_epochs < 0) reader.fail("warmup_epochs", "must not be negative");
  if (schedule.type == "step") schedule.step_size = reader.positive<std::int64_t>("step_size", schedule.step_size);
  if (schedule.type == "step" || schedule.type == "multistep")
    schedule.gamma = reader.get<double>("gamma", schedule.gamma);
  if (schedule.type == "multistep") schedule.milestones = reader.required<std::vector<std::int64_t>>("milestones");
  if (schedule.type == "cosine") schedule.min_factor = reader.get<double>("min_factor", schedule.min_factor);
  if (schedule.type == "onecycle") {
    schedule.pct_start = reader.get<double>("pct_start", schedule.pct_start);
    schedule.div_factor = reader.get<double>("div_factor", schedule.div_factor);
    schedule.final_div_factor = reader.get<double>("final_div_factor", schedule.final_div_factor);
    if (schedule.pct_start <= 0 || schedule.pct_start >= 1) reader.fail("pct_start", "must be in (0, 1)");
  }
  if (schedule.type == "plateau") {
    schedule.plateau_factor = reader.get<double>("factor", schedule.plateau_factor);
    schedule.plateau_patience = reader.get<std::int64_t>("patience", schedule.plateau_patience);
  }
  reader.finish();
  return schedule;
}

RunConfig read_run(const ConfigTable& root, const std::string& file, const std::string& stage) {
  RunConfig run;  // its members hold the defaults (experiment.h), read back as each key's fallback
  run.stage = stage;
  Problems local;
  Problems& problems = current_problems ? *current_problems : local;
  problems.collect([&] {
    SectionReader reader(section(root, "experiment", file), "experiment");
    run.name = reader.required<std::string>("name");
    run.seed = static_cast<std::uint64_t>(reader.get<std::int64_t>("seed", 0));
    run.device = reader.get<std::string>("device", run.device);
    check_device(reader, run.device);
    run.threads = reader.get<std::int64_t>("threads", run.threads);
    run.precision = reader.get<std::string>("precision", run.precision);
    const std::vector<std::string> precisions = {"fp32", "bf16", "fp16"};
    if (std::find(precisions.begin(), precisions.end(), run.precision) == precisions.end()) {
      reader.fail("precision", "expected \"fp32\", \"bf16\" or \"fp16\", got \"" + run.precision + "\"");
    }
    run.channels_last = reader.get<bool>("channels_last", run.channels_last);
    if (run.threads < 0) reader.fail("threads", "must be 0 (physical cores) or positive");
    reader.get<std::string>("store", "");
    reader.get<std::vector<std::string>>("plugin_paths", {});
    reader.get<std::vector<std::string>>("plugins", {});
    reader.finish();
  });
  problems.collect([&] {
    const ConfigTable& table = section(root, "backbone", file);
    SectionReader reader(table, "backbone");
    static_cast<ComponentConfig&>(run.backbone) = read_component(reader, table);
    run.backbone.weights = reader.get<std::string>("weights", run.backbone.weights);
    run.backbone.weights_where = reader.where("weights");
    run.backbone.freeze = reader.get<std::vector<std::string>>("freeze", run.backbone.freeze);
    run.backbone.lr_mult = reader.get<double>("lr_mult", run.backbone.lr_mult);
    if (run.backbone.lr_mult < 0) reader.fail("lr_mult", "must not be negative");
    run.backbone.layer_decay = reader.get<double>("layer_decay", run.backbone.layer_decay);
    if (run.backbone.layer_decay <= 0 || run.backbone.layer_decay > 1) reader.fail("layer_decay", "must be in (0, 1]");
    run.backbone.params = reader.plugin_params();
  });
  problems.collect([&] {
    const ConfigTable& table = section(root, "dataset", file);
    SectionReader reader(table, "dataset");
    run.dataset = read_component(reader, table);
    const std::vector<std::string> known = {"random_crop", "hflip"};
    for (const auto& name : reader.get<std::vector<std::string>>("augment", {})) {
      if (name == "random_crop")
        run.augment.random_crop = true;
      else if (name == "hflip")
        run.augment.hflip = true;
      else
        reader.fail("augment", "unknown augmentation '" + name + "'" + did_you_mean(name, known) +
                                   " (known: " + join(known) + ")");
    }
    run.augment.crop_padding = reader.get<std::int64_t>("crop_padding", run.augment.crop_padding);
    if (run.augment.crop_padding < 1) reader.fail("crop_padding", "must be at least 1");
    run.dataset.params = reader.plugin_params();
  });
  problems.collect([&] { run.head = read_plain_component(section(root, "head", file), "head"); });
  problems.collect([&] { run.optimizer = read_plain_component(section(root, "optimizer", file), "optimizer"); });
  if (auto it = root.table_arrays.find("regularization"); it != root.table_arrays.end()) {
    for (const auto& table : it->second) {
      problems.collect([&] { run.regularizations.push_back(read_plain_component(table, "regularization")); });
    }
  }
  if (auto it = root.tables.find("train"); it != root.tables.end())
    problems.collect([&] {
      SectionReader reader(it->second, "train");
      run.train.epochs = reader.positive<std::int64_t>("epochs", run.train.epochs);
      run.train.batch_size = reader.positive<std::int64_t>("batch_size", run.train.batch_size);
      run.train.eval_batch_size = reader.positive<std::int64_t>("eval_batch_size", run.train.eval_batch_size);
      run.train.eval_every = reader.positive<std::int64_t>("eval_every", run.train.eval_every);
      run.train.test = reader.get<bool>("test", run.train.test);
      run.train.loader_threads = reader.get<std::int64_t>("loader_threads", run.train.loader_threads);
      run.train.accumulate = reader.positive<std::int64_t>("accumulate", run.train.accumulate);
      run.train.clip_grad_norm = reader.get<double>("clip_grad_norm", run.train.clip_grad_norm);
      if (run.train.clip_grad_norm < 0) reader.fail("clip_grad_norm", "must be 0 (off) or positive");
      run.train.monitor = reader.get<std::string>("monitor", run.train.monitor);
      const std::vector<std::string> monitors = {"val_loss", "val_accuracy", "train_loss", "train_accuracy"};
      if (std::find(monitors.begin(), monitors.end(), run.train.monitor) == monitors.end()) {
        reader.fail("monitor", "expected one of " + join(monitors) + did_you_mean(run.train.monitor, monitors));
      }
      run.train.monitor_mode = reader.get<std::string>("monitor_mode", run.train.monitor_mode);
      if (run.train.monitor_mode != "auto" && run.train.monitor_mode != "min" && run.train.monitor_mode != "max") {
        reader.fail("monitor_mode", "expected \"auto\", \"min\" or \"max\"");
      }
      run.train.patience = reader.get<std::int64_t>("patience", run.train.patience);
      if (run.train.patience < 0) reader.fail("patience", "must be 0 (no early stopping) or positive");
      run.train.min_delta = reader.get<double>("min_delta", run.train.min_delta);
      if (run.train.loader_threads < 0)
        reader.fail("loader_threads", "must be 0 (decode on the training thread) or more");
      reader.finish();
    });
  if (auto it = root.tables.find("schedule"); it != root.tables.end()) {
    problems.collect([&] { run.schedule = read_schedule(it->second); });
  }
  if (&problems == &local) local.throw_if_any();
  return run;
}

// The resolved run as a tree: the user's values plus every core default, so the stored text says exactly
// what ran.
ConfigTable resolved_tree(const RunConfig& run, const ConfigTable& merged) {
  ConfigTable out = merged;
  out.erase("stage");
  auto set = [](ConfigTable& table, const std::string& key, auto value) {
    if (table.values.count(key)) return;
    ParamValue param;
    param.data = value;
    table.values[key] = param;
  };
  ConfigTable& experiment = out.tables["experiment"];
  if (!run.stage.empty()) {
    ParamValue stage;
    stage.data = run.stage;
    experiment.values["stage"] = stage;
  }
  set(experiment, "seed", static_cast<std::int64_t>(run.seed));
  set(experiment, "device", run.device);
  set(experiment, "threads", run.threads);
  set(experiment, "precision", run.precision);
  set(experiment, "channels_last", run.channels_last);
  set(out.tables["backbone"], "lr_mult", run.backbone.lr_mult);
  ConfigTable& train = out.tables["train"];
  set(train, "epochs", run.train.epochs);
  set(train, "batch_size", run.train.batch_size);
  set(train, "eval_batch_size", run.train.eval_batch_size);
  set(train, "eval_every", run.train.eval_every);
  set(train, "test", run.train.test);
  set(train, "loader_threads", run.train.loader_threads);
  set(train, "accumulate", run.train.accumulate);
  set(train, "clip_grad_norm", run.train.clip_grad_norm);
  set(train, "monitor", run.train.monitor);
  set(train, "monitor_mode", run.train.monitor_mode);
  set(train, "patience", run.train.patience);
  set(train, "min_delta", run.train.min_delta);
  set(out.tables["schedule"], "type", run.schedule.type);
  return out;
}

void flatten(const ConfigTable& table, const std::string& prefix,
             std::vector<std::pair<std::string, ParamValue>>& out) {
  for (const auto& [key, value] : table.values) out.emplace_back(prefix + key, value);
  for (const auto& [key, sub] : table.tables) flatten(sub, prefix + key + ".", out);
  for (const auto& [key, items] : table.table_arrays) {
    std::map<std::string, int> seen;
    for (const auto& item : items) {
      // Regularizations are addressed by type ("regularization.l2sp.alpha"), which stays stable when the
      // list is reordered; a repeated type gets its ordinal.
      std::string name = std::to_string(&item - items.data());
      if (auto type = item.values.find("type"); type != item.values.end()) {
        if (auto* text = std::get_if<std::string>(&type->second.data)) {
          name = *text;
          if (seen[name]++ > 0) name += "#" + std::to_string(seen[name]);
        }
      }
      flatten(item, prefix + key + "." + name + ".", out);
    }
  }
}

ConfigTable parse_override_value(const std::string& key, const std::string& text, const std::string& origin) {
  try {
    ConfigTable parsed = parse_toml("value = " + text, origin);
    return parsed;
  } catch (const ConfigError&) {
    // Not a TOML value (e.g. --set dataset.root=data/x): take it as a string, as a shell user would expect.
    ConfigTable table;
    ParamValue value;
    value.data = text;
    value.where = {origin};
    table.values["value"] = value;
    (void)key;
    return table;
  }
}

void apply_override(ConfigTable& root, const std::string& assignment) {
  const std::string origin = "--set " + assignment;
  const auto equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw ConfigError(origin + ": expected key=value, e.g. --set optimizer.lr=0.01");
  }
  const std::string key = assignment.substr(0, equals);
  std::vector<std::string> path;
  std::stringstream stream(key);
  for (std::string part; std::getline(stream, part, '.');) path.push_back(part);
  if (std::any_of(path.begin(), path.end(), [](const std::string& p) { return p.empty(); }) || path.size() > 8) {
    throw ConfigError(origin + ": '" + key +
                      "' is not a valid dotted key (e.g. optimizer.lr or stage.NAME.train.epochs)");
  }
  ConfigTable* table = &root;
  std::size_t first = 0;
  if (path.size() > 2 && path[0] == "stage") {
    // stage.<name>.<section>.<key> addresses one stage.
    auto stages = root.table_arrays.find("stage");
    ConfigTable* found = nullptr;
    std::vector<std::string> names;
    if (stages != root.table_arrays.end()) {
      for (auto& stage : stages->second) {
        auto name = stage.values.find("name");
        if (name == stage.values.end()) continue;
        const auto* text = std::get_if<std::string>(&name->second.data);
        if (!text) continue;
        names.push_back(*text);
        if (*text == path[1]) found = &stage;
      }
    }
    if (!found) throw ConfigError(origin + ": no stage named '" + path[1] + "'" + did_you_mean(path[1], names));
    table = found;
    first = 2;
  }
  for (std::size_t i = first; i + 1 < path.size(); ++i) {
    if (table->values.count(path[i])) throw ConfigError(origin + ": '" + path[i] + "' is a value, not a table");
    ConfigTable& sub = table->tables[path[i]];
    if (sub.where.file.empty()) sub.where = {origin};
    table = &sub;
  }
  ParamValue value = parse_override_value(key, assignment.substr(equals + 1), origin).values.at("value");
  value.where = {origin};
  table->erase(path.back());
  table->values[path.back()] = value;
}

std::vector<std::string> string_list(const ConfigTable& experiment, const std::string& key) {
  return to_params(experiment, "experiment").get<std::vector<std::string>>(key, {});
}

std::string text_of(const ParamValue& value) {
  const auto* text = std::get_if<std::string>(&value.data);
  return text ? *text : std::string();
}

std::vector<RunConfig> resolve_runs(const ConfigTable& root, const std::string& file) {
  auto stages = root.table_arrays.find("stage");
  if (stages == root.table_arrays.end()) {
    if (root.has("stage")) {
      throw ConfigError(root.where_of("stage").str() + ": 'stage' must be an array of tables: write [[stage]]");
    }
    RunConfig run = read_run(root, file, "");
    const ConfigTable resolved = resolved_tree(run, root);
    run.resolved_toml = to_toml_text(resolved);
    flatten(resolved, "", run.flat_params);
    return {run};
  }
  std::vector<RunConfig> runs;
  std::set<std::string> names;
  ConfigTable base = root;
  base.erase("stage");
  for (const ConfigTable& stage : stages->second) {
    reject_unknown_keys(stage, kStageKeys, "[[stage]]");
    check_section_shapes(stage);
    const std::string name = to_params(stage, "stage").required<std::string>("name");
    if (!names.insert(name).second) {
      throw ConfigError(stage.where_of("name").str() + ": a stage named '" + name + "' already exists");
    }
    ConfigTable merged = base;
    ConfigTable overlay = stage;
    overlay.erase("name");
    // A stage that changes a component's type starts that section afresh: the base's parameters belong to
    // the other type.
    for (auto& [key, sub] : overlay.tables) {
      auto type = sub.values.find("type");
      auto base_section = merged.tables.find(key);
      if (type != sub.values.end() && base_section != merged.tables.end()) {
        auto base_type = base_section->second.values.find("type");
        if (base_type == base_section->second.values.end() || text_of(base_type->second) != text_of(type->second)) {
          merged.tables.erase(base_section);
        }
      }
    }
    merge_into(merged, overlay);
    RunConfig run = read_run(merged, file, name);
    const ConfigTable resolved = resolved_tree(run, merged);
    run.resolved_toml = to_toml_text(resolved);
    flatten(resolved, "", run.flat_params);
    const std::string& weights = run.backbone.weights;
    if (weights.rfind("stage:", 0) == 0) {
      const std::string source = weights.substr(6);
      if (!names.count(source) || source == name) {
        throw ConfigError(run.backbone.weights_where.str() + ": backbone.weights = \"" + weights +
                          "\": no earlier stage named '" + source + "'" +
                          did_you_mean(source, std::vector<std::string>(names.begin(), names.end())));
      }
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

}  // namespace

ExperimentPlan parse_experiment(const std::string& text, const std::string& source_name,
                                const std::vector<std::string>& overrides) {
  ConfigTable root = parse_toml(text, source_name);
  for (const auto& assignment : overrides) apply_override(root, assignment);
  Problems problems;
  current_problems = &problems;
  struct Reset {
    ~Reset() { current_problems = nullptr; }
  } reset;
  reject_unknown_keys(root, kTopLevelKeys, "the experiment file");
  problems.collect([&] { check_section_shapes(root); });
  for (const auto& name : kRequiredSections) problems.collect([&] { section(root, name, source_name); });
  problems.throw_if_any();

  ExperimentPlan plan;
  plan.source_file = source_name;
  const ConfigTable& experiment = root.tables.at("experiment");
  plan.store_path = to_params(experiment, "experiment").get<std::string>("store", "");
  plan.plugin_paths = string_list(experiment, "plugin_paths");
  plan.plugin_files = string_list(experiment, "plugins");
  plan.runs = resolve_runs(root, source_name);
  problems.throw_if_any();
  for (const auto& run : plan.runs) {
    if (!run.stage.empty() || run.backbone.weights.rfind("stage:", 0) != 0) continue;
    throw ConfigError(run.backbone.weights_where.str() + ": backbone.weights = \"" + run.backbone.weights +
                      "\" names a stage, but the experiment has no [[stage]] tables");
  }
  return plan;
}

ExperimentPlan parse_resolved_run(const std::string& text, const std::string& source_name) {
  ConfigTable root = parse_toml(text, source_name);
  if (auto backbone = root.tables.find("backbone"); backbone != root.tables.end()) backbone->second.erase("weights");
  std::string stage;
  if (auto experiment = root.tables.find("experiment"); experiment != root.tables.end()) {
    stage = to_params(experiment->second, "experiment").get<std::string>("stage", "");
    experiment->second.erase("stage");
  }
  ExperimentPlan plan;
  plan.source_file = source_name;
  const ConfigTable& experiment = section(root, "experiment", source_name);
  plan.plugin_paths = string_list(experiment, "plugin_paths");
  plan.plugin_files = string_list(experiment, "plugins");
  RunConfig run = read_run(root, source_name, stage);
  run.resolved_toml = text;
  plan.runs.push_back(std::move(run));
  return plan;
}

ExperimentPlan load_experiment(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) throw ConfigError(path + ": no such experiment file");
  if (std::filesystem::is_directory(path, error)) {
    throw ConfigError(path + ": is a folder; give an experiment file, e.g. experiments/quickstart.toml");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ConfigError(path + ": cannot read the experiment file (check its permissions)");
  // Read through a bounded buffer: special files (/dev/zero, a pipe) have no size to check beforehand.
  std::string text;
  char buffer[65536];
  while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(file.gcount()));
    if (text.size() > kMaxExperimentBytes) {
      throw ConfigError(path + ": larger than " + std::to_string(kMaxExperimentBytes >> 10) +
                        " KiB; that is not an experiment file");
    }
  }
  return parse_experiment(text, path, overrides);
}

}  // namespace ft
