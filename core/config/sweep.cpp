#include "config/sweep.h"

#include "config/config_tree.h"
#include "config/fingerprint.h"
#include "config/join.h"
#include "config/nearest_key.h"
#include "sampling/builtin_samplers.h"
#include "store/reports.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

namespace ft {
namespace {

const std::vector<std::string> kSweepKeys = {"method",      "trials", "seed",   "metric", "direction",
                                             "max_retries", "params", "pruner", "sampler"};
const std::vector<std::string> kDistributions = {"log_uniform", "uniform", "int", "choice"};

// Two numbers [low, high] with low < high (and low > 0 on a log scale).
void read_range(SweepParam& param, const ParamValue& value, bool log) {
  const auto* array = std::get_if<ParamValue::Array>(&value.data);
  auto number = [](const ParamValue& v) -> std::optional<double> {
    if (auto* d = std::get_if<double>(&v.data)) return *d;
    if (auto* i = std::get_if<std::int64_t>(&v.data)) return static_cast<double>(*i);
    return std::nullopt;
  };
  if (!array || array->size() != 2 || !number((*array)[0]) || !number((*array)[1])) {
    throw ConfigError(value.where.str() + ": sweep parameter '" + param.key + "': expected [low, high], two numbers");
  }
  param.low = *number((*array)[0]);
  param.high = *number((*array)[1]);
  if (!(param.low < param.high)) {
    throw ConfigError(value.where.str() + ": sweep parameter '" + param.key + "': low must be below high");
  }
  if (log && param.low <= 0) {
    throw ConfigError(value.where.str() + ": sweep parameter '" + param.key + "': log_uniform needs low > 0");
  }
}

SweepParam read_distribution(const std::string& key, const ConfigTable& table) {
  SweepParam param;
  param.key = key;
  param.where = table.where;
  if (table.values.size() != 1 || !table.tables.empty()) {
    throw ConfigError(table.where.str() + ": sweep parameter '" + key + "': expected one of { " +
                      join(kDistributions, " = ..., ") + " = ... }");
  }
  const auto& [name, value] = *table.values.begin();
  param.where = value.where;
  if (name == "log_uniform" || name == "uniform") {
    param.kind = name == "log_uniform" ? SweepParam::Kind::log_uniform : SweepParam::Kind::uniform;
    read_range(param, value, name == "log_uniform");
  } else if (name == "int") {
    param.kind = SweepParam::Kind::integer;
    read_range(param, value, false);
    if (param.low != std::floor(param.low) || param.high != std::floor(param.high)) {
      throw ConfigError(value.where.str() + ": sweep parameter '" + key + "': int needs two integers");
    }
  } else if (name == "choice") {
    param.kind = SweepParam::Kind::choice;
    const auto* array = std::get_if<ParamValue::Array>(&value.data);
    if (!array || array->empty()) {
      throw ConfigError(value.where.str() + ": sweep parameter '" + key + "': choice needs a non-empty array");
    }
    param.values = *array;
  } else {
    throw ConfigError(value.where.str() + ": sweep parameter '" + key + "': unknown distribution '" + name + "'" +
                      did_you_mean(name, kDistributions) + " (known: " + join(kDistributions) + ")");
  }
  return param;
}

// [sweep.params], whose keys may be quoted ("optimizer.lr") or dotted (optimizer.lr, which TOML nests).
void read_params(const ConfigTable& table, const std::string& prefix, std::vector<SweepParam>& out) {
  for (const auto& [name, value] : table.values) {
    SweepParam param;
    param.key = prefix + name;
    param.where = value.where;
    const auto* array = std::get_if<ParamValue::Array>(&value.data);
    if (!array || array->empty()) {
      throw ConfigError(value.where.str() + ": sweep parameter '" + param.key +
                        "': expected a list of values or a distribution such as { log_uniform = [1e-4, 1e-1] }");
    }
    param.values = *array;
    out.push_back(std::move(param));
  }
  for (const auto& [name, sub] : table.tables) {
    // A table is a distribution when its one key names one (or nearly: a typo gets its suggestion), or when it
    // was written as a quoted dotted key ("optimizer.lr" = { ... }); otherwise it is a dotted key's next part.
    const std::string only = sub.values.size() == 1 && sub.tables.empty() ? sub.values.begin()->first : "";
    const bool distribution =
        !only.empty() && (std::find(kDistributions.begin(), kDistributions.end(), only) != kDistributions.end() ||
                          !did_you_mean(only, kDistributions).empty() || name.find('.') != std::string::npos);
    if (distribution) {
      out.push_back(read_distribution(prefix + name, sub));
    } else {
      read_params(sub, prefix + name + ".", out);
    }
  }
}

PrunerConfig read_pruner(const ConfigTable& table) {
  const Params params = to_params(table, "sweep.pruner");
  PrunerConfig pruner;
  pruner.type = params.required<std::string>("type");
  std::vector<std::string> known = {"type"};
  if (pruner.type == "median") {
    known.insert(known.end(), {"startup_trials", "warmup_epochs"});
    pruner.startup_trials = params.get<std::int64_t>("startup_trials", pruner.startup_trials);
    pruner.warmup_epochs = params.get<std::int64_t>("warmup_epochs", pruner.warmup_epochs);
    if (pruner.startup_trials < 1) params.fail("startup_trials", "must be at least 1");
    if (pruner.warmup_epochs < 0) params.fail("warmup_epochs", "must not be negative");
  } else if (pruner.type == "asha") {
    known.insert(known.end(), {"grace_period", "reduction_factor"});
    pruner.grace_period = params.get<std::int64_t>("grace_period", pruner.grace_period);
    pruner.reduction_factor = params.get<std::int64_t>("reduction_factor", pruner.reduction_factor);
    if (pruner.grace_period < 1) params.fail("grace_period", "must be at least 1 (epochs)");
    if (pruner.reduction_factor < 2) params.fail("reduction_factor", "must be at least 2");
  } else if (pruner.type != "none") {
    const std::vector<std::string> types = {"none", "median", "asha"};
    params.fail("type", "expected \"median\", \"asha\" or \"none\", got \"" + pruner.type + "\"" +
                            did_you_mean(pruner.type, types));
  }
  for (const auto& key : table.keys()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw ConfigError(table.where_of(key).str() + ": unknown key '" + key + "' in [sweep.pruner] for type \"" +
                        pruner.type + "\"" + did_you_mean(key, known) + " (known: " + join(known) + ")");
    }
  }
  return pruner;
}

SweepConfig read_sweep_table(const ConfigTable& sweep) {
  for (const auto& key : sweep.keys()) {
    if (std::find(kSweepKeys.begin(), kSweepKeys.end(), key) == kSweepKeys.end()) {
      throw ConfigError(sweep.where_of(key).str() + ": unknown key '" + key + "' in [sweep]" +
                        did_you_mean(key, kSweepKeys) + " (known: " + join(kSweepKeys) + ")");
    }
  }
  const Params params = to_params(sweep, "sweep");
  SweepConfig config;
  config.method = params.required<std::string>("method");
  config.method_where = params.find("method")->where;
  // Another name is a sampler plugin's, known once plugins are loaded; a near miss of a built-in is a typo.
  const auto& builtins = builtin_sampler_names();
  if (!is_builtin_sampler(config.method) && !did_you_mean(config.method, builtins).empty()) {
    params.fail("method", "expected \"grid\", \"random\", \"tpe\" or a sampler plugin's name, got \"" + config.method +
                              "\"" + did_you_mean(config.method, builtins));
  }
  if (config.method != "grid") {
    config.trials = params.required<std::int64_t>("trials");
    if (config.trials < 1 || config.trials > 100000) params.fail("trials", "must be between 1 and 100000");
  } else if (params.contains("trials")) {
    params.fail("trials", "a grid runs every combination of its lists; trials is for the other methods");
  }
  if (auto sampler = sweep.tables.find("sampler"); sampler != sweep.tables.end()) {
    config.sampler = to_params(sampler->second, "sweep.sampler");
  } else if (sweep.values.count("sampler")) {
    throw ConfigError(sweep.where_of("sampler").str() +
                      ": write the sampler's parameters as a table: [sweep.sampler] startup_trials = 10");
  }
  const auto seed = params.get<std::int64_t>("seed", 0);
  if (seed < 0) params.fail("seed", "must not be negative");
  config.seed = static_cast<std::uint64_t>(seed);
  config.metric = params.get<std::string>("metric", config.metric);
  const auto& metrics = objective_metrics();
  if (std::find(metrics.begin(), metrics.end(), config.metric) == metrics.end()) {
    params.fail("metric", "expected one of " + join(metrics) + did_you_mean(config.metric, metrics));
  }
  // A loss is minimised and an accuracy maximised; a run's primary metric goes the way its task says (perplexity
  // down, accuracy up), which only its plugin knows: left empty here and decided when the first trial is built.
  const bool loss = config.metric.find("loss") != std::string::npos;
  const bool primary = config.metric.find("primary") != std::string::npos;
  if (const auto direction = params.optional<std::string>("direction")) {
    config.direction = *direction;
    if (config.direction != "min" && config.direction != "max") params.fail("direction", "expected \"min\" or \"max\"");
  } else {
    config.direction = loss ? "min" : primary ? "" : "max";
  }
  config.max_retries = params.get<std::int64_t>("max_retries", config.max_retries);
  if (config.max_retries < 0) params.fail("max_retries", "must be 0 or more");
  const auto found = sweep.tables.find("params");
  if (found == sweep.tables.end() || (found->second.values.empty() && found->second.tables.empty())) {
    throw ConfigError(sweep.where.str() +
                      ": [sweep] needs [sweep.params] with at least one key to vary, e.g. "
                      "\"optimizer.lr\" = [0.003, 0.01, 0.03]");
  }
  if (auto pruner = sweep.tables.find("pruner"); pruner != sweep.tables.end()) {
    config.pruner = read_pruner(pruner->second);
  } else if (sweep.values.count("pruner")) {
    throw ConfigError(sweep.where_of("pruner").str() + ": write the pruner as a table: [sweep.pruner] type = \"asha\"");
  }
  read_params(found->second, "", config.params);
  // In the order they are written (the tree keeps keys sorted): a grid's last parameter varies fastest.
  std::stable_sort(config.params.begin(), config.params.end(), [](const SweepParam& a, const SweepParam& b) {
    return std::make_pair(a.where.line, a.where.column) < std::make_pair(b.where.line, b.where.column);
  });
  for (const auto& param : config.params) {
    const bool list = param.kind == SweepParam::Kind::list || param.kind == SweepParam::Kind::choice;
    if (config.method == "grid" && !list) {
      throw ConfigError(param.where.str() + ": sweep parameter '" + param.key +
                        "': a grid needs a list of values; distributions are for the other methods");
    }
  }
  return config;
}

// splitmix64: a well-mixed 64-bit value from a seed and a trial number, so each trial's draws and seed depend on
// nothing but those two (not on how many trials ran before, or in which process).
std::uint64_t mix(std::uint64_t seed, std::uint64_t trial) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (trial + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

ParamValue value_of(const SweepParam& param, double value) {
  ParamValue out;
  switch (param.kind) {
    case SweepParam::Kind::uniform:
    case SweepParam::Kind::log_uniform: out.data = value; break;
    case SweepParam::Kind::integer: out.data = static_cast<std::int64_t>(value); break;
    case SweepParam::Kind::list:
    case SweepParam::Kind::choice: out = param.values.at(static_cast<std::size_t>(value)); break;
  }
  out.where = param.where;
  return out;
}

// Grid and random trials, all proposed now: there are no results to wait for.
std::vector<SweepTrial> make_trials(const SweepConfig& config) {
  if (config.method == "grid") {
    std::size_t count = 1;
    for (const auto& param : config.params) {
      count *= param.values.size();
      if (count > 100000) throw ConfigError(param.where.str() + ": the grid has more than 100000 trials");
    }
  }
  std::vector<SweepTrial> trials;
  if (proposes_as_it_goes(config)) return trials;
  const auto sampler = make_builtin_sweep_sampler(config, true);
  for (std::int64_t n = 0;; ++n) {
    const auto proposal = sampler->propose(n, {}, proposal_seed(config, n));
    if (!proposal) break;
    trials.push_back(trial_from_proposal(config, n, proposal->values));
  }
  return trials;
}

std::string fingerprint_of(const std::string& text, const std::vector<std::string>& overrides) {
  Fingerprint fingerprint;
  fingerprint.add(text);
  for (const auto& override : overrides) fingerprint.add(override);
  return fingerprint.hex();
}

}  // namespace

SweepPlan parse_sweep(const std::string& text, const std::string& source_name,
                      const std::vector<std::string>& overrides) {
  ConfigTable root = parse_toml(text, source_name);
  // `--set sweep.KEY=VALUE` changes the sweep as `--set` changes the experiment (and the sweep's fingerprint with it).
  for (const auto& assignment : overrides) apply_override(root, assignment);
  const auto found = root.tables.find("sweep");
  if (found == root.tables.end()) {
    throw ConfigError(source_name +
                      ": no [sweep] table; ftrun sweep runs the trials a [sweep] defines "
                      "(docs/sweeps.md), ftrun run runs the experiment once");
  }
  SweepPlan plan;
  plan.config = read_sweep_table(found->second);
  plan.trials = make_trials(plan.config);
  // A sampler that proposes as it goes is checked with a random draw: any point of the space must make a valid
  // experiment.
  if (plan.trials.empty()) {
    SweepConfig random = plan.config;
    random.method = "random";
    random.sampler = Params("sweep.sampler");
    const auto draw = make_builtin_sweep_sampler(random, true)->propose(0, {}, proposal_seed(random, 0));
    plan.check_trial = trial_from_proposal(plan.config, 0, draw->values);
  } else {
    plan.check_trial = plan.trials.front();
  }
  plan.experiment_file = source_name;
  plan.text = text;
  plan.overrides = overrides;
  plan.fingerprint = fingerprint_of(text, overrides);
  // Every value must make a valid experiment. Checking each value once, in the first trial, finds what checking
  // every trial would (values do not depend on each other), without reading a large grid's experiment thousands
  // of times.
  const SweepTrial& first = plan.check_trial;
  trial_plan(plan, first);
  for (std::size_t p = 0; p < plan.config.params.size(); ++p) {
    const SweepParam& param = plan.config.params[p];
    std::vector<ParamValue> values = param.values;
    if (param.kind == SweepParam::Kind::uniform || param.kind == SweepParam::Kind::log_uniform) {
      values = {to_param_value(param.low), to_param_value(param.high)};
    } else if (param.kind == SweepParam::Kind::integer) {
      values = {to_param_value(static_cast<std::int64_t>(param.low)),
                to_param_value(static_cast<std::int64_t>(param.high))};
    }
    for (ParamValue value : values) {
      value.where = param.where;
      SweepTrial trial = first;
      trial.values[p].value = value;
      trial_plan(plan, trial);
    }
  }
  return plan;
}

SweepPlan load_sweep(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_sweep(read_experiment_file(path), path, overrides);
}

ExperimentPlan trial_plan(const SweepPlan& sweep, const SweepTrial& trial) {
  std::vector<KeyValue> values = trial.values;
  if (trial.seed != 0 ||
      std::none_of(values.begin(), values.end(), [](const KeyValue& v) { return v.key == "experiment.seed"; })) {
    ParamValue seed = to_param_value(static_cast<std::int64_t>(trial.seed));
    seed.where = {"sweep trial " + std::to_string(trial.number) + " seed"};
    values.push_back({"experiment.seed", seed});
  }
  return parse_experiment(sweep.text, sweep.experiment_file, sweep.overrides, values);
}

std::string trial_values_text(const SweepTrial& trial) {
  std::string text;
  for (const auto& [key, value] : trial.values) text += key + " = " + to_toml_value(value) + "\n";
  return text;
}

bool proposes_as_it_goes(const SweepConfig& config) { return config.method != "grid" && config.method != "random"; }

SamplerContext sampler_context(const SweepConfig& config, bool minimize) {
  SamplerContext context;
  context.minimize = minimize;
  context.trials = config.trials;
  context.seed = config.seed;
  for (const auto& param : config.params) {
    SearchDimension dimension;
    dimension.key = param.key;
    dimension.low = param.low;
    dimension.high = param.high;
    switch (param.kind) {
      case SweepParam::Kind::uniform: dimension.kind = SearchDimension::Kind::uniform; break;
      case SweepParam::Kind::log_uniform: dimension.kind = SearchDimension::Kind::log_uniform; break;
      case SweepParam::Kind::integer: dimension.kind = SearchDimension::Kind::integer; break;
      case SweepParam::Kind::list:
      case SweepParam::Kind::choice:
        dimension.kind = SearchDimension::Kind::list;
        for (const auto& value : param.values) dimension.values.push_back(to_toml_value(value));
        break;
    }
    context.space.push_back(std::move(dimension));
  }
  return context;
}

std::shared_ptr<Sampler> make_builtin_sweep_sampler(const SweepConfig& config, bool minimize) {
  auto sampler = make_builtin_sampler(config.method, config.sampler, sampler_context(config, minimize));
  if (!sampler) return nullptr;
  for (const auto& key : config.sampler.keys()) {
    if (!config.sampler.read_keys().count(key)) {
      const std::vector<std::string> known(config.sampler.read_keys().begin(), config.sampler.read_keys().end());
      const auto* value = config.sampler.find(key);
      throw ConfigError(value->where.str() + ": unknown key '" + key + "' in [sweep.sampler] for method \"" +
                        config.method + "\"" + did_you_mean(key, known) +
                        (known.empty() ? " (it has no parameters)" : " (known: " + join(known) + ")"));
    }
  }
  return sampler;
}

std::uint64_t proposal_seed(const SweepConfig& config, std::int64_t number) {
  return mix(config.seed, static_cast<std::uint64_t>(number));
}

std::uint64_t trial_seed(const SweepConfig& config, std::int64_t number) {
  const bool varies_seed = std::any_of(config.params.begin(), config.params.end(),
                                       [](const SweepParam& p) { return p.key == "experiment.seed"; });
  // Below 100000, so that seeds read well in tables; distinct per trial in practice, and fixed by (seed, number).
  return varies_seed ? 0 : mix(config.seed ^ 0x5EEDULL, static_cast<std::uint64_t>(number)) % 100000;
}

SweepTrial trial_from_proposal(const SweepConfig& config, std::int64_t number, const std::vector<double>& values) {
  if (values.size() != config.params.size()) {
    throw ConfigError("sampler \"" + config.method + "\" proposed " + std::to_string(values.size()) +
                      " value(s) for trial " + std::to_string(number) + "; the sweep has " +
                      std::to_string(config.params.size()) + " parameter(s)");
  }
  SweepTrial trial;
  trial.number = number;
  for (std::size_t p = 0; p < values.size(); ++p) {
    const SweepParam& param = config.params[p];
    const bool list = param.kind == SweepParam::Kind::list || param.kind == SweepParam::Kind::choice;
    const double v = values[p];
    const bool inside = list ? v >= 0 && v < static_cast<double>(param.values.size()) && v == std::floor(v)
                             : std::isfinite(v) && v >= param.low && v <= param.high &&
                                   (param.kind != SweepParam::Kind::integer || v == std::floor(v));
    if (!inside) {
      throw ConfigError("sampler \"" + config.method + "\" proposed " + std::to_string(v) + " for '" + param.key +
                        "' in trial " + std::to_string(number) + ", outside what " + param.where.str() + " allows");
    }
    trial.values.push_back({param.key, value_of(param, v)});
  }
  trial.seed = trial_seed(config, number);
  return trial;
}

std::vector<double> proposal_values(const SweepConfig& config, const std::string& params_text) {
  std::map<std::string, std::string> written;
  std::size_t start = 0;
  while (start < params_text.size()) {
    auto end = params_text.find('\n', start);
    if (end == std::string::npos) end = params_text.size();
    const std::string line = params_text.substr(start, end - start);
    const auto equals = line.find(" = ");
    if (equals != std::string::npos) written[line.substr(0, equals)] = line.substr(equals + 3);
    start = end + 1;
  }
  std::vector<double> values;
  for (const auto& param : config.params) {
    const auto found = written.find(param.key);
    if (found == written.end()) throw ConfigError("a stored trial has no value for '" + param.key + "'");
    if (param.kind == SweepParam::Kind::list || param.kind == SweepParam::Kind::choice) {
      std::size_t index = 0;
      while (index < param.values.size() && to_toml_value(param.values[index]) != found->second) ++index;
      if (index == param.values.size()) {
        throw ConfigError("a stored trial's " + param.key + " = " + found->second + " is not one of its values");
      }
      values.push_back(static_cast<double>(index));
    } else {
      values.push_back(std::strtod(found->second.c_str(), nullptr));
    }
  }
  return values;
}

}  // namespace ft
