#include "sampling/tpe.h"

#include "sampling/truncated_normal.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <tuple>

namespace ft::tpe {
namespace {

// The index drawn from `probabilities` (summing to 1) by u in [0, 1).
std::size_t draw_index(const std::vector<double>& probabilities, double u) {
  double cumulative = 0;
  for (std::size_t i = 0; i + 1 < probabilities.size(); ++i) {
    cumulative += probabilities[i];
    if (u < cumulative) return i;
  }
  return probabilities.size() - 1;
}

double log_sum_exp(const std::vector<double>& values) {
  double high = -std::numeric_limits<double>::infinity();
  for (const double v : values) high = std::max(high, v);
  if (std::isinf(high)) high = 0;  // every term is -inf: so is the sum
  double sum = 0;
  for (const double v : values) sum += std::exp(v - high);
  return std::log(sum) + high;
}

}  // namespace

std::int64_t gamma(std::int64_t finished) {
  return std::min<std::int64_t>(static_cast<std::int64_t>(std::ceil(0.1 * static_cast<double>(finished))), 25);
}

std::vector<double> default_weights(std::size_t n) {
  if (n < 25) return std::vector<double>(n, 1.0);
  // numpy.linspace(1 / n, 1, n - 25), then 25 ones.
  std::vector<double> weights;
  const std::size_t ramp = n - 25;
  const double start = 1.0 / static_cast<double>(n);
  for (std::size_t i = 0; i < ramp; ++i) {
    if (ramp == 1) {
      weights.push_back(start);
    } else {
      const double step = (1.0 - start) / static_cast<double>(ramp - 1);
      weights.push_back(i + 1 == ramp ? 1.0 : start + static_cast<double>(i) * step);
    }
  }
  weights.insert(weights.end(), 25, 1.0);
  return weights;
}

Split split(const std::vector<Observation>& trials, bool minimize) {
  std::vector<const Observation*> completed, pruned, running;
  for (const auto& trial : trials) {
    if (trial.state == Observation::State::running)
      running.push_back(&trial);
    else if (trial.state == Observation::State::completed)
      completed.push_back(&trial);
    else
      pruned.push_back(&trial);
  }
  auto by_number = [](const Observation* a, const Observation* b) { return a->number < b->number; };
  for (auto* list : {&completed, &pruned}) std::stable_sort(list->begin(), list->end(), by_number);
  std::int64_t n_below = gamma(static_cast<std::int64_t>(completed.size() + pruned.size()));
  Split out;
  // Completed trials by objective, the best first.
  std::stable_sort(completed.begin(), completed.end(), [&](const Observation* a, const Observation* b) {
    return minimize ? a->objective < b->objective : a->objective > b->objective;
  });
  const auto take_completed = std::min<std::size_t>(static_cast<std::size_t>(n_below), completed.size());
  out.below.assign(completed.begin(), completed.begin() + static_cast<std::ptrdiff_t>(take_completed));
  out.above.assign(completed.begin() + static_cast<std::ptrdiff_t>(take_completed), completed.end());
  n_below = std::max<std::int64_t>(0, n_below - static_cast<std::int64_t>(take_completed));
  // Pruned trials: those that got furthest first, then by their last value (Optuna's _get_pruned_trial_score).
  auto score = [&](const Observation* trial) {
    if (std::isnan(trial->last_value))
      return std::make_tuple(-static_cast<double>(trial->last_step), std::numeric_limits<double>::infinity());
    return std::make_tuple(-static_cast<double>(trial->last_step), minimize ? trial->last_value : -trial->last_value);
  };
  std::stable_sort(pruned.begin(), pruned.end(),
                   [&](const Observation* a, const Observation* b) { return score(a) < score(b); });
  const auto take_pruned = std::min<std::size_t>(static_cast<std::size_t>(n_below), pruned.size());
  out.below.insert(out.below.end(), pruned.begin(), pruned.begin() + static_cast<std::ptrdiff_t>(take_pruned));
  out.above.insert(out.above.end(), pruned.begin() + static_cast<std::ptrdiff_t>(take_pruned), pruned.end());
  out.above.insert(out.above.end(), running.begin(), running.end());
  std::stable_sort(out.below.begin(), out.below.end(), by_number);
  std::stable_sort(out.above.begin(), out.above.end(), by_number);
  return out;
}

ParzenEstimator::ParzenEstimator(const std::vector<double>& observations, const Dimension& dimension,
                                 double prior_weight)
    : dimension_(dimension) {
  const std::size_t n = observations.size();
  weights_ = default_weights(n);
  weights_.push_back(n == 0 ? 1.0 : prior_weight);
  const double total = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  for (double& w : weights_) w /= total;

  if (dimension.kind == Dimension::Kind::categorical) {
    const std::size_t kernels = n + 1;
    if (n == 0) {
      categorical_.assign(1, std::vector<double>(dimension.choices, 1.0 / static_cast<double>(dimension.choices)));
      return;
    }
    categorical_.assign(kernels, std::vector<double>(dimension.choices, prior_weight / static_cast<double>(kernels)));
    for (std::size_t i = 0; i < n; ++i) categorical_[i][static_cast<std::size_t>(observations[i])] += 1;
    for (auto& row : categorical_) {
      const double sum = std::accumulate(row.begin(), row.end(), 0.0);
      if (sum != 0)
        for (double& p : row) p /= sum;
    }
    return;
  }

  low_ = dimension.low - dimension.step / 2;
  high_ = dimension.high + dimension.step / 2;
  std::vector<double> mus = observations;
  if (dimension.log) {
    for (double& mu : mus) mu = std::log(mu);
    low_ = std::log(low_);
    high_ = std::log(high_);
  }
  // Each kernel as wide as the larger gap to its neighbours (the range's ends count as neighbours, except for the
  // outermost kernels once there are two), clipped to [range / min(100, n + 2), range].
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return mus[a] < mus[b]; });
  std::vector<double> sorted(n + 2);
  sorted[0] = low_;
  for (std::size_t i = 0; i < n; ++i) sorted[i + 1] = mus[order[i]];
  sorted[n + 1] = high_;
  std::vector<double> sorted_sigmas(n);
  for (std::size_t i = 0; i < n; ++i) {
    sorted_sigmas[i] = std::max(sorted[i + 1] - sorted[i], sorted[i + 2] - sorted[i + 1]);
  }
  if (n + 2 >= 4) {
    sorted_sigmas[0] = sorted[2] - sorted[1];
    sorted_sigmas[n - 1] = sorted[n] - sorted[n - 1];
  }
  const double max_sigma = high_ - low_;
  const double min_sigma = (high_ - low_) / std::min(100.0, 1.0 + static_cast<double>(n + 1));
  sigmas_.resize(n);
  for (std::size_t i = 0; i < n; ++i) sigmas_[order[i]] = std::clamp(sorted_sigmas[i], min_sigma, max_sigma);
  mus_ = mus;
  mus_.push_back(0.5 * (low_ + high_));
  sigmas_.push_back(high_ - low_);
}

double ParzenEstimator::kernel_log_pdf(std::size_t k, double x) const {
  if (dimension_.kind == Dimension::Kind::categorical) {
    return std::log(categorical_[k][static_cast<std::size_t>(x)]);
  }
  const double mu = mus_[k], sigma = sigmas_[k];
  const double a = (low_ - mu) / sigma, b = (high_ - mu) / sigma;
  if (dimension_.step == 0) {
    const double t = dimension_.log ? std::log(x) : x;
    return truncated_normal::log_pdf(t, a, b, mu, sigma);
  }
  // An integer: the kernel's mass over its cell [x - step/2, x + step/2], over its mass on the whole range.
  double left = x - dimension_.step / 2, right = x + dimension_.step / 2;
  if (dimension_.log) {
    left = std::log(left);
    right = std::log(right);
  }
  return truncated_normal::log_gauss_mass((left - mu) / sigma, (right - mu) / sigma) -
         truncated_normal::log_gauss_mass(a, b);
}

std::vector<double> ParzenEstimator::log_pdf(const std::vector<double>& xs) const {
  std::vector<double> out;
  std::vector<double> terms(weights_.size());
  for (const double x : xs) {
    for (std::size_t k = 0; k < weights_.size(); ++k) terms[k] = std::log(weights_[k]) + kernel_log_pdf(k, x);
    out.push_back(log_sum_exp(terms));
  }
  return out;
}

double ParzenEstimator::sample_kernel(std::size_t k, std::mt19937_64& random) const {
  if (dimension_.kind == Dimension::Kind::categorical) {
    return static_cast<double>(draw_index(categorical_[k], unit(random)));
  }
  const double mu = mus_[k], sigma = sigmas_[k];
  double x = truncated_normal::ppf(unit(random), (low_ - mu) / sigma, (high_ - mu) / sigma) * sigma + mu;
  if (dimension_.log) x = std::exp(x);
  if (dimension_.step != 0) {
    // numpy.round: halves to even, as nearbyint in the default rounding mode.
    return std::clamp(dimension_.low + std::nearbyint((x - dimension_.low) / dimension_.step) * dimension_.step,
                      dimension_.low, dimension_.high);
  }
  return std::clamp(x, dimension_.low, dimension_.high);  // exp(log(high)) may overshoot by an ulp
}

std::vector<double> ParzenEstimator::sample(std::mt19937_64& random, std::size_t count) const {
  std::vector<double> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(sample_kernel(draw_index(weights_, unit(random)), random));
  return out;
}

JointParzenEstimator::JointParzenEstimator(const std::vector<const Observation*>& observations,
                                           const std::vector<Dimension>& space, double prior_weight) {
  for (std::size_t d = 0; d < space.size(); ++d) {
    std::vector<double> column;
    for (const auto* observation : observations) column.push_back(observation->values.at(d));
    dimensions_.emplace_back(column, space[d], prior_weight);
  }
}

std::vector<double> JointParzenEstimator::log_pdf(const std::vector<std::vector<double>>& points) const {
  std::vector<double> out;
  if (dimensions_.empty()) return std::vector<double>(points.size(), 0.0);
  const auto& weights = dimensions_.front().weights();  // the same in every dimension
  std::vector<double> terms(weights.size());
  for (const auto& point : points) {
    for (std::size_t k = 0; k < weights.size(); ++k) {
      terms[k] = std::log(weights[k]);
      for (std::size_t d = 0; d < dimensions_.size(); ++d) terms[k] += dimensions_[d].kernel_log_pdf(k, point.at(d));
    }
    out.push_back(log_sum_exp(terms));
  }
  return out;
}

std::vector<std::vector<double>> JointParzenEstimator::sample(std::mt19937_64& random, std::size_t count) const {
  std::vector<std::vector<double>> out;
  if (dimensions_.empty()) return std::vector<std::vector<double>>(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t k = draw_index(dimensions_.front().weights(), unit(random));
    std::vector<double> point;
    for (const auto& dimension : dimensions_) point.push_back(dimension.sample_kernel(k, random));
    out.push_back(std::move(point));
  }
  return out;
}

namespace {

Choice best_of(const std::vector<double>& good, const std::vector<double>& bad) {
  if (good.empty()) throw std::invalid_argument("TPE: no candidates to choose from");
  Choice choice;
  for (std::size_t i = 0; i < good.size(); ++i) {
    choice.scores.push_back(good[i] - bad[i]);
    if (choice.scores[i] > choice.scores[choice.best]) choice.best = i;
  }
  return choice;
}

}  // namespace

Choice choose(const ParzenEstimator& below, const ParzenEstimator& above, const std::vector<double>& candidates) {
  return best_of(below.log_pdf(candidates), above.log_pdf(candidates));
}

Choice choose(const JointParzenEstimator& below, const JointParzenEstimator& above,
              const std::vector<std::vector<double>>& candidates) {
  return best_of(below.log_pdf(candidates), above.log_pdf(candidates));
}

std::optional<std::vector<double>> propose(const std::vector<Dimension>& space, const std::vector<Observation>& trials,
                                           const Settings& settings, bool minimize, std::mt19937_64& random) {
  const auto finished = std::count_if(trials.begin(), trials.end(), [](const Observation& trial) {
    return trial.state != Observation::State::running;
  });
  if (finished < settings.startup_trials) return std::nullopt;
  const Split parts = split(trials, minimize);
  if (settings.multivariate) {
    const JointParzenEstimator below(parts.below, space, settings.prior_weight);
    const JointParzenEstimator above(parts.above, space, settings.prior_weight);
    const auto candidates = below.sample(random, static_cast<std::size_t>(settings.candidates));
    return candidates[choose(below, above, candidates).best];
  }
  std::vector<double> values;
  for (std::size_t d = 0; d < space.size(); ++d) {
    auto column = [&](const std::vector<const Observation*>& list) {
      std::vector<double> out;
      for (const auto* trial : list) out.push_back(trial->values.at(d));
      return out;
    };
    const ParzenEstimator below(column(parts.below), space[d], settings.prior_weight);
    const ParzenEstimator above(column(parts.above), space[d], settings.prior_weight);
    const auto candidates = below.sample(random, static_cast<std::size_t>(settings.candidates));
    values.push_back(candidates[choose(below, above, candidates).best]);
  }
  return values;
}

}  // namespace ft::tpe
