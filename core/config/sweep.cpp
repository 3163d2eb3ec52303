#include "config/sweep.h"

#include "config/config_tree.h"
#include "config/fingerprint.h"
#include "config/join.h"
#include "config/nearest_key.h"
#include "store/reports.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

namespace ft {
namespace {

const std::vector<std::string> kSweepKeys = {"method",    "trials",      "seed",   "metric",
                                             "direction", "max_retries", "params", "pruner"};
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
  if (config.method != "grid" && config.method != "random") {
    params.fail("method", "expected \"grid\" or \"random\", got \"" + config.method + "\"");
  }
  if (config.method == "random") {
    config.trials = params.required<std::int64_t>("trials");
    if (config.trials < 1 || config.trials > 100000) params.fail("trials", "must be between 1 and 100000");
  } else if (params.contains("trials")) {
    params.fail("trials", "a grid runs every combination of its lists; trials is for method = \"random\"");
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
                        "': a grid needs a list of values; distributions are for method = \"random\"");
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

// A draw in [0, 1) from the 53 high bits: the same on every standard library (std::uniform_real_distribution
// is not specified bit for bit).
double unit(std::mt19937_64& random) { return static_cast<double>(random() >> 11) * 0x1.0p-53; }

ParamValue draw(const SweepParam& param, std::mt19937_64& random) {
  ParamValue value;
  value.where = param.where;
  const double u = unit(random);
  switch (param.kind) {
    case SweepParam::Kind::uniform: value.data = param.low + u * (param.high - param.low); break;
    case SweepParam::Kind::log_uniform:
      value.data = std::exp(std::log(param.low) + u * (std::log(param.high) - std::log(param.low)));
      break;
    case SweepParam::Kind::integer:
      value.data = static_cast<std::int64_t>(param.low) + static_cast<std::int64_t>(u * (param.high - param.low + 1));
      break;
    case SweepParam::Kind::list:
    case SweepParam::Kind::choice: {
      value = param.values[static_cast<std::size_t>(u * static_cast<double>(param.values.size()))];
      value.where = param.where;
      break;
    }
  }
  return value;
}

std::vector<SweepTrial> make_trials(const SweepConfig& config) {
  std::vector<SweepTrial> trials;
  const bool varies_seed = std::any_of(config.params.begin(), config.params.end(),
                                       [](const SweepParam& p) { return p.key == "experiment.seed"; });
  if (config.method == "grid") {
    std::size_t count = 1;
    for (const auto& param : config.params) {
      count *= param.values.size();
      if (count > 100000) throw ConfigError(param.where.str() + ": the grid has more than 100000 trials");
    }
    for (std::size_t n = 0; n < count; ++n) {
      SweepTrial trial;
      trial.number = static_cast<std::int64_t>(n);
      // The last parameter varies fastest, as nested loops in the order the parameters are listed.
      std::size_t rest = n;
      std::vector<KeyValue> values(config.params.size());
      for (std::size_t p = config.params.size(); p-- > 0;) {
        const auto& param = config.params[p];
        ParamValue value = param.values[rest % param.values.size()];
        value.where = param.where;
        values[p] = {param.key, value};
        rest /= param.values.size();
      }
      trial.values = std::move(values);
      trials.push_back(std::move(trial));
    }
  } else {
    for (std::int64_t n = 0; n < config.trials; ++n) {
      SweepTrial trial;
      trial.number = n;
      std::mt19937_64 random(mix(config.seed, static_cast<std::uint64_t>(n)));
      for (const auto& param : config.params) trial.values.push_back({param.key, draw(param, random)});
      trials.push_back(std::move(trial));
    }
  }
  for (auto& trial : trials) {
    // Below 100000, so that seeds read well in tables; distinct per trial in practice, and fixed by (seed, number).
    trial.seed = varies_seed ? 0 : mix(config.seed ^ 0x5EEDULL, static_cast<std::uint64_t>(trial.number)) % 100000;
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
  const ConfigTable root = parse_toml(text, source_name);
  const auto found = root.tables.find("sweep");
  if (found == root.tables.end()) {
    throw ConfigError(source_name +
                      ": no [sweep] table; ftrun sweep runs the trials a [sweep] defines "
                      "(docs/sweeps.md), ftrun run runs the experiment once");
  }
  SweepPlan plan;
  plan.config = read_sweep_table(found->second);
  plan.trials = make_trials(plan.config);
  plan.experiment_file = source_name;
  plan.text = text;
  plan.overrides = overrides;
  plan.fingerprint = fingerprint_of(text, overrides);
  // Every value must make a valid experiment. Checking each value once, in the first trial, finds what checking
  // every trial would (values do not depend on each other), without reading a large grid's experiment thousands
  // of times.
  const SweepTrial& first = plan.trials.front();
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

}  // namespace ft
