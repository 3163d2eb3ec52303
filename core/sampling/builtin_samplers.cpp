#include "sampling/builtin_samplers.h"

#include "sampling/tpe.h"

#include <ftsdk/error.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace ft {
namespace {

class GridSampler : public Sampler {
 public:
  explicit GridSampler(SamplerContext context) : context_(std::move(context)) {
    for (const auto& dimension : context_.space) {
      if (dimension.kind != SearchDimension::Kind::list) {
        throw ConfigError("sweep parameter '" + dimension.key +
                          "': a grid needs a list of values; distributions are for the other methods");
      }
      count_ *= static_cast<std::int64_t>(dimension.values.size());
    }
  }
  std::optional<TrialProposal> propose(std::int64_t number, const std::vector<TrialSoFar>&, std::uint64_t) override {
    if (number >= count_) return std::nullopt;
    // The last parameter varies fastest, as nested loops in the order the parameters are listed.
    TrialProposal proposal{std::vector<double>(context_.space.size()), "grid"};
    auto rest = static_cast<std::size_t>(number);
    for (std::size_t p = context_.space.size(); p-- > 0;) {
      const std::size_t size = context_.space[p].values.size();
      proposal.values[p] = static_cast<double>(rest % size);
      rest /= size;
    }
    return proposal;
  }

 private:
  SamplerContext context_;
  std::int64_t count_ = 1;
};

// Each value from one draw u in [0, 1) of a generator seeded by the trial alone.
std::vector<double> random_values(const std::vector<SearchDimension>& space, std::uint64_t trial_seed) {
  std::mt19937_64 random(trial_seed);
  std::vector<double> values;
  for (const auto& dimension : space) {
    const double u = tpe::unit(random);
    switch (dimension.kind) {
      case SearchDimension::Kind::uniform:
        values.push_back(dimension.low + u * (dimension.high - dimension.low));
        break;
      case SearchDimension::Kind::log_uniform:
        values.push_back(std::exp(std::log(dimension.low) + u * (std::log(dimension.high) - std::log(dimension.low))));
        break;
      case SearchDimension::Kind::integer:
        values.push_back(dimension.low + std::floor(u * (dimension.high - dimension.low + 1)));
        break;
      case SearchDimension::Kind::list:
        values.push_back(std::floor(u * static_cast<double>(dimension.values.size())));
        break;
    }
  }
  return values;
}

class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(SamplerContext context) : context_(std::move(context)) {}
  std::optional<TrialProposal> propose(std::int64_t number, const std::vector<TrialSoFar>&,
                                       std::uint64_t trial_seed) override {
    if (number >= context_.trials) return std::nullopt;
    return TrialProposal{random_values(context_.space, trial_seed), "random"};
  }

 private:
  SamplerContext context_;
};

class TpeSampler : public Sampler {
 public:
  TpeSampler(const Params& params, SamplerContext context) : context_(std::move(context)) {
    settings_.startup_trials = params.get<std::int64_t>("startup_trials", settings_.startup_trials);
    settings_.candidates = params.get<std::int64_t>("candidates", settings_.candidates);
    settings_.multivariate = params.get<bool>("multivariate", settings_.multivariate);
    if (settings_.startup_trials < 1) params.fail("startup_trials", "must be at least 1");
    if (settings_.candidates < 1) params.fail("candidates", "must be at least 1");
    for (const auto& dimension : context_.space) {
      tpe::Dimension d;
      switch (dimension.kind) {
        case SearchDimension::Kind::list:
          d.kind = tpe::Dimension::Kind::categorical;
          d.choices = dimension.values.size();
          break;
        case SearchDimension::Kind::integer: d.step = 1; [[fallthrough]];
        case SearchDimension::Kind::uniform:
        case SearchDimension::Kind::log_uniform:
          d.low = dimension.low;
          d.high = dimension.high;
          d.log = dimension.kind == SearchDimension::Kind::log_uniform;
          break;
      }
      space_.push_back(d);
    }
  }
  std::optional<TrialProposal> propose(std::int64_t number, const std::vector<TrialSoFar>& trials,
                                       std::uint64_t trial_seed) override {
    if (number >= context_.trials) return std::nullopt;
    // Optuna's states: completed and pruned trials are the history, running ones the constant liar's "bad"
    // points; failed and waiting ones say nothing.
    std::vector<tpe::Observation> observations;
    for (const auto& trial : trials) {
      tpe::Observation observation;
      observation.number = trial.number;
      observation.values = trial.values;
      if (trial.state == TrialSoFar::State::completed && trial.objective) {
        observation.state = tpe::Observation::State::completed;
        observation.objective = *trial.objective;
      } else if (trial.state == TrialSoFar::State::pruned) {
        observation.state = tpe::Observation::State::pruned;
        observation.last_step = trial.last_epoch;
        observation.last_value = trial.last_value.value_or(NAN);
      } else if (trial.state == TrialSoFar::State::running) {
        observation.state = tpe::Observation::State::running;
      } else {
        continue;
      }
      observations.push_back(std::move(observation));
    }
    std::mt19937_64 random(trial_seed);
    if (auto values = tpe::propose(space_, observations, settings_, context_.minimize, random)) {
      return TrialProposal{*values, "tpe"};
    }
    // Too few finished trials yet: the random sampler's draw for this trial.
    return TrialProposal{random_values(context_.space, trial_seed), "random"};
  }

 private:
  SamplerContext context_;
  tpe::Settings settings_;
  std::vector<tpe::Dimension> space_;
};

}  // namespace

const std::vector<std::string>& builtin_sampler_names() {
  static const std::vector<std::string> names = {"grid", "random", "tpe"};
  return names;
}

bool is_builtin_sampler(const std::string& method) {
  const auto& names = builtin_sampler_names();
  return std::find(names.begin(), names.end(), method) != names.end();
}

std::shared_ptr<Sampler> make_builtin_sampler(const std::string& method, const Params& params,
                                              const SamplerContext& context) {
  if (method == "grid") return std::make_shared<GridSampler>(context);
  if (method == "random") return std::make_shared<RandomSampler>(context);
  if (method == "tpe") return std::make_shared<TpeSampler>(params, context);
  return nullptr;
}

}  // namespace ft
