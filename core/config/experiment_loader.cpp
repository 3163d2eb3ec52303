#include "config/config_tree.h"
#include "config/core_keys.h"
#include "config/experiment.h"
#include "config/join.h"
#include "config/nearest_key.h"
#include "config/plugin_kinds.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace ft {
namespace {

// The sections of an experiment file: the core's own, and one per plugin kind (config/plugin_kinds.h).
std::vector<std::string> kind_sections(KindCount count) {
  std::vector<std::string> names;
  for (const auto& kind : plugin_kinds()) {
    if (kind.count == count) names.push_back(kind.name);
  }
  return names;
}
std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
const std::vector<std::string> kTableSections =
    concat(concat({"experiment"}, kind_sections(KindCount::one)), {"train", "schedule", "distributed"});
const std::vector<std::string> kTableArraySections = concat(kind_sections(KindCount::many), {"stage"});
const std::vector<std::string> kTopLevelKeys = concat(concat(kTableSections, kTableArraySections), {"sweep"});
const std::vector<std::string> kStageKeys = concat(concat({"name"}, kind_sections(KindCount::one)),
                                                   concat(kind_sections(KindCount::many), {"train", "schedule"}));
const std::vector<std::string> kRequiredSections = [] {
  std::vector<std::string> names = {"experiment"};
  for (const auto& kind : plugin_kinds()) {
    if (kind.count == KindCount::one && kind.default_type.empty()) names.push_back(kind.name);
  }
  return names;
}();
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

/// Reads the core's keys of a section (core_keys.h) through Params (typed, positioned errors), then rejects what
/// is left (core-only sections) or hands it on as the plugin's parameters (component sections).
class SectionReader {
 public:
  SectionReader(const ConfigTable& table, std::string section)
      : table_(table), section_(std::move(section)), params_(to_params(table, section_)) {
    for (const auto& [key, sub] : table.tables) {
      throw ConfigError(sub.where.str() + ": [" + section_ + "." + key + "]: sub-tables are not allowed here");
    }
  }

  /// Every key of the table that exists for this run, each problem kept so that reading goes on.
  void read_core_keys(RunConfig& run, Problems& problems) {
    for (const auto& key : core_keys()) {
      if (key.section != section_ || (key.applies && !key.applies(run))) continue;
      known_.push_back(key.name);
      problems.collect([&] { key.read(params_, run); });
    }
  }

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

ComponentConfig read_regularization(const ConfigTable& table) {
  Params params = to_params(table, "regularization");
  ComponentConfig component;
  component.type = params.required<std::string>("type");
  component.where = table.where_of("type");
  component.params = Params("regularization", table.where);
  for (const auto& [key, value] : table.values) {
    if (key != "type") component.params.set(key, value);
  }
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

RunConfig read_run(const ConfigTable& root, const std::string& file, const std::string& stage) {
  RunConfig run;  // its members hold the defaults (experiment.h), read back as each key's fallback
  run.stage = stage;
  Problems local;
  Problems& problems = current_problems ? *current_problems : local;
  static const ConfigTable kAbsent;  // an optional section left out: every key at its default
  for (const auto& name : core_key_sections()) {
    problems.collect([&] {
      const bool required =
          std::find(kRequiredSections.begin(), kRequiredSections.end(), name) != kRequiredSections.end();
      const auto found = root.tables.find(name);
      const ConfigTable& table = required                     ? section(root, name, file)
                                 : found == root.tables.end() ? kAbsent
                                                              : found->second;
      SectionReader reader(table, name);
      reader.read_core_keys(run, problems);
      if (ComponentConfig* component = component_of(run, name)) {
        component->params = reader.plugin_params();
      } else {
        reader.finish();
      }
    });
  }
  if (auto it = root.table_arrays.find("regularization"); it != root.table_arrays.end()) {
    for (const auto& table : it->second) {
      problems.collect([&] { run.regularizations.push_back(read_regularization(table)); });
    }
  }
  if (&problems == &local) local.throw_if_any();
  return run;
}

// The resolved run as a tree: the user's values, with every core key set to its effective value (defaults
// included, typed as the key), so the stored text says exactly what ran.
ConfigTable resolved_tree(const RunConfig& run, const ConfigTable& merged) {
  ConfigTable out = merged;
  out.erase("stage");
  if (!run.stage.empty()) out.tables["experiment"].values["stage"] = to_param_value(run.stage);
  for (const auto& key : core_keys()) {
    if (key.applies && !key.applies(run)) continue;
    if (auto value = key.value(run)) out.tables[key.section].values[key.name] = *value;
  }
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

// Flattens the resolved run into its parameters, and marks those the experiment (`written`) did not set.
void record_flat_params(RunConfig& run, const ConfigTable& resolved, const ConfigTable& written) {
  flatten(resolved, "", run.flat_params);
  std::vector<std::pair<std::string, ParamValue>> written_params;
  flatten(written, "", written_params);
  std::set<std::string> written_keys;
  for (const auto& entry : written_params) written_keys.insert(entry.first);
  for (const auto& entry : run.flat_params) {
    if (!written_keys.count(entry.first)) run.default_keys.insert(entry.first);
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

// The table of the array `array` of `table` whose string `field` is `value` (a stage by name, a regularization by
// type), or nullptr; `seen` gets every value of `field` there, for the message.
ConfigTable* entry_named(ConfigTable& table, const std::string& array, const std::string& field,
                         const std::string& value, std::vector<std::string>& seen) {
  auto entries = table.table_arrays.find(array);
  if (entries == table.table_arrays.end()) return nullptr;
  ConfigTable* found = nullptr;
  for (auto& entry : entries->second) {
    auto it = entry.values.find(field);
    if (it == entry.values.end()) continue;
    const auto* text = std::get_if<std::string>(&it->second.data);
    if (!text) continue;
    seen.push_back(*text);
    if (*text == value && !found) found = &entry;
  }
  return found;
}

// Sets the dotted `key` (stage.NAME.SECTION.KEY addresses one stage) to `value`; `origin` names the source of the
// assignment in errors (`--set ...`, or a sweep parameter's file:line:col).
void set_dotted_key(ConfigTable& root, const std::string& key, ParamValue value, const std::string& origin) {
  std::vector<std::string> path;
  std::stringstream stream(key);
  for (std::string part; std::getline(stream, part, '.');) path.push_back(part);
  if (std::any_of(path.begin(), path.end(), [](const std::string& p) { return p.empty(); }) || path.size() > 8 ||
      key.empty() || key.back() == '.') {
    throw ConfigError(origin + ": '" + key +
                      "' is not a valid dotted key (e.g. optimizer.lr or stage.NAME.train.epochs)");
  }
  if (path.size() > 2 && path[0] == "sweep" && path[1] == "params") {
    // One sweep parameter, written in the file as a quoted key ("optimizer.lr" = [...]) or as nested tables
    // (optimizer.lr = [...]): the list given replaces either.
    ConfigTable& sweep = root.tables["sweep"];
    ConfigTable& params = sweep.tables["params"];
    if (sweep.where.file.empty()) sweep.where = value.where;
    if (params.where.file.empty()) params.where = value.where;
    ConfigTable* nested = &params;
    for (std::size_t i = 2; nested && i + 1 < path.size(); ++i) {
      const auto sub = nested->tables.find(path[i]);
      nested = sub == nested->tables.end() ? nullptr : &sub->second;
    }
    if (nested) nested->erase(path.back());
    const std::string name = key.substr(std::string("sweep.params.").size());
    params.erase(name);
    params.values[name] = std::move(value);
    return;
  }
  ConfigTable* table = &root;
  std::size_t first = 0;
  if (path.size() > 2 && path[0] == "stage") {
    // stage.<name>.<section>.<key> addresses one stage.
    std::vector<std::string> names;
    table = entry_named(root, "stage", "name", path[1], names);
    if (!table) throw ConfigError(origin + ": no stage named '" + path[1] + "'" + did_you_mean(path[1], names));
    first = 2;
  }
  if (path.size() == first + 3 && path[first] == "regularization") {
    // regularization.TYPE.KEY addresses the [[regularization]] of that type, as run_params names it.
    std::vector<std::string> types;
    ConfigTable* entry = entry_named(*table, "regularization", "type", path[first + 1], types);
    if (!entry) {
      throw ConfigError(origin + ": no [[" + std::string(first == 2 ? "stage." : "") + "regularization]] of type '" +
                        path[first + 1] + "' here" + did_you_mean(path[first + 1], types) +
                        (types.empty() ? "" : " (types: " + join(types) + ")"));
    }
    entry->erase(path.back());
    entry->values[path.back()] = std::move(value);
    return;
  }
  for (std::size_t i = first; i + 1 < path.size(); ++i) {
    if (table->values.count(path[i])) throw ConfigError(origin + ": '" + path[i] + "' is a value, not a table");
    ConfigTable& sub = table->tables[path[i]];
    if (sub.where.file.empty()) sub.where = value.where;
    table = &sub;
  }
  table->erase(path.back());
  table->values[path.back()] = std::move(value);
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
    record_flat_params(run, resolved, root);
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
    record_flat_params(run, resolved, merged);
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

void apply_override(ConfigTable& root, const std::string& assignment) {
  const std::string origin = "--set " + assignment;
  const auto equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw ConfigError(origin + ": expected key=value, e.g. --set optimizer.lr=0.01");
  }
  const std::string key = assignment.substr(0, equals);
  const ConfigTable parsed = parse_override_value(key, assignment.substr(equals + 1), origin);
  const auto found = parsed.values.find("value");
  if (found == parsed.values.end()) {  // an inline table ({ a = 1 }): found by the fuzzer
    throw ConfigError(origin + ": the value must be a number, a string, a boolean or an array; set a table's keys " +
                      "one by one (--set " + key + ".KEY=VALUE)");
  }
  ParamValue value = found->second;
  value.where = {origin};
  set_dotted_key(root, key, std::move(value), origin);
}

ComponentConfig* component_of(RunConfig& run, const std::string& kind) {
  if (kind == "backbone") return &run.backbone;
  if (kind == "dataset") return &run.dataset;
  if (kind == "task") return &run.task;
  if (kind == "head") return &run.head;
  if (kind == "optimizer") return &run.optimizer;
  return nullptr;
}

const ComponentConfig* component_of(const RunConfig& run, const std::string& kind) {
  return component_of(const_cast<RunConfig&>(run), kind);
}

void record_plugin_defaults(RunConfig& run) {
  ConfigTable resolved = parse_toml(run.resolved_toml, "the resolved run");
  auto add = [](ConfigTable& table, const Params& params) {
    for (const auto& [key, value] : params.defaults_used()) {
      if (!table.has(key)) table.values[key] = value;
    }
  };
  for (const auto& kind : plugin_kinds()) {
    if (const ComponentConfig* component = component_of(run, kind.name)) {
      add(resolved.tables[kind.name], component->params);
    }
  }
  if (auto it = resolved.table_arrays.find("regularization"); it != resolved.table_arrays.end()) {
    for (std::size_t i = 0; i < it->second.size() && i < run.regularizations.size(); ++i) {
      add(it->second[i], run.regularizations[i].params);
    }
  }
  run.resolved_toml = to_toml_text(resolved);
  // Parameters that are not in the resolved TOML (a sweep trial's number) are kept.
  const auto before = std::move(run.flat_params);
  run.flat_params.clear();
  flatten(resolved, "", run.flat_params);
  std::set<std::string> known;
  for (const auto& entry : before) known.insert(entry.first);
  for (const auto& entry : run.flat_params) {
    if (!known.count(entry.first)) run.default_keys.insert(entry.first);  // a plugin's default
  }
  for (const auto& entry : before) {
    const bool there = std::any_of(run.flat_params.begin(), run.flat_params.end(),
                                   [&](const auto& existing) { return existing.first == entry.first; });
    if (!there) run.flat_params.push_back(entry);
  }
}

ExperimentPlan parse_experiment(const std::string& text, const std::string& source_name,
                                const std::vector<std::string>& overrides, const std::vector<KeyValue>& assignments) {
  ConfigTable root = parse_toml(text, source_name);
  for (const auto& assignment : overrides) apply_override(root, assignment);
  // The sweep's own table says how to vary the runs; it is not part of any of them (config/sweep.h).
  const bool has_sweep = root.tables.count("sweep") != 0;
  root.erase("sweep");
  for (const auto& [key, value] : assignments) set_dotted_key(root, key, value, value.where.str());
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
  plan.has_sweep = has_sweep;
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
  if (auto head = root.tables.find("head"); head != root.tables.end()) head->second.erase("weights");
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

std::string read_experiment_file(const std::string& path) {
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
  return text;
}

ExperimentPlan load_experiment(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_experiment(read_experiment_file(path), path, overrides);
}

}  // namespace ft
