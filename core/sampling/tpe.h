#pragma once
// The tree-structured Parzen estimator (Bergstra et al., 2011) as Optuna's TPESampler (5.x) computes it with its
// defaults (multivariate, constant liar, prior weight 1, magic clip, endpoints not considered, gamma(n) =
// min(ceil(n / 10), 25), weights ramping down the oldest trials beyond 25), or univariate as Optuna did by default
// before, so that the same history and candidates give the same densities and the same choice (tested against
// Optuna itself).
//
// Each swept parameter is a Dimension; trials so far are Observations in the parameters' internal
// representation (the value, its log for log-uniform, a list's index). propose() gives the next trial's values.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

namespace ft::tpe {

struct Dimension {
  enum class Kind { numeric, categorical };
  Kind kind = Kind::numeric;
  double low = 0, high = 0;  // numeric: both ends included
  double step = 0;           // 0: continuous; 1: integers
  bool log = false;          // log-uniform
  std::size_t choices = 0;   // categorical: how many values the list has
};

struct Settings {
  /// Trials drawn at random before TPE takes over: TPE starts once this many are completed or pruned.
  std::int64_t startup_trials = 10;
  /// Candidates drawn from the good trials' density, of which the one with the best ratio is chosen.
  std::int64_t candidates = 24;
  double prior_weight = 1.0;
  /// One density over every parameter at once (each kernel a product over the parameters, so that values which
  /// were good together are proposed together), as Optuna does by default for one objective; false: one density
  /// per parameter, each chosen on its own (Bergstra et al.'s original TPE, Optuna's default before 4.?).
  bool multivariate = true;
};

struct Observation {
  enum class State { completed, pruned, running };
  std::int64_t number = 0;
  State state = State::completed;
  std::vector<double> values;  // one per dimension, internal representation
  double objective = 0;        // completed trials
  /// Pruned trials: their last evaluation (epoch) and its value (NaN when there was none).
  std::int64_t last_step = 0;
  double last_value = 0;
};

/// How many trials count as good among n finished ones: min(ceil(n / 10), 25).
std::int64_t gamma(std::int64_t finished);

/// The weights of n observations, in trial order: 1 each up to 25, then a ramp from 1/n for the oldest.
std::vector<double> default_weights(std::size_t n);

/// The good (below) and bad (above) trials, each in trial order: completed trials by objective first, then pruned
/// trials by how far they got and their last value; running trials are bad (the constant liar).
struct Split {
  std::vector<const Observation*> below, above;
};
Split split(const std::vector<Observation>& trials, bool minimize);

/// A mixture of one kernel per observation and a prior over the whole range, in one dimension.
class ParzenEstimator {
 public:
  ParzenEstimator(const std::vector<double>& observations, const Dimension& dimension, double prior_weight);
  /// log density (numeric: continuous or of an integer's cell) or log probability (categorical) at each x.
  std::vector<double> log_pdf(const std::vector<double>& xs) const;
  std::vector<double> sample(std::mt19937_64& random, std::size_t count) const;

  /// One kernel's log density at x (the last kernel is the prior), and a draw from it.
  double kernel_log_pdf(std::size_t kernel, double x) const;
  double sample_kernel(std::size_t kernel, std::mt19937_64& random) const;

  const std::vector<double>& weights() const { return weights_; }
  const std::vector<double>& mus() const { return mus_; }
  const std::vector<double>& sigmas() const { return sigmas_; }

 private:
  Dimension dimension_;
  double low_ = 0, high_ = 0;  // the range the kernels live in: widened by half a step, in log space if log
  std::vector<double> weights_, mus_, sigmas_;
  std::vector<std::vector<double>> categorical_;  // per kernel, the probability of each choice
};

/// A mixture over every dimension at once (Optuna's _MixtureOfProductDistribution): kernel k is the product of
/// each dimension's kernel k, all dimensions share the kernels' weights, and a draw takes every value of a point
/// from one kernel. Points are one value per dimension, in the internal representation.
class JointParzenEstimator {
 public:
  JointParzenEstimator(const std::vector<const Observation*>& observations, const std::vector<Dimension>& space,
                       double prior_weight);
  std::vector<double> log_pdf(const std::vector<std::vector<double>>& points) const;
  std::vector<std::vector<double>> sample(std::mt19937_64& random, std::size_t count) const;

 private:
  std::vector<ParzenEstimator> dimensions_;
};

/// The candidate with the highest log l(x) - log g(x) (the first on a tie), and every score.
struct Choice {
  std::size_t best = 0;
  std::vector<double> scores;
};
Choice choose(const ParzenEstimator& below, const ParzenEstimator& above, const std::vector<double>& candidates);
Choice choose(const JointParzenEstimator& below, const JointParzenEstimator& above,
              const std::vector<std::vector<double>>& candidates);

/// The next trial's values by TPE (multivariate or each dimension on its own, as `settings` says), or nothing while
/// fewer than startup_trials trials are completed or pruned (the caller draws at random then, as Optuna does). `random`
/// draws the candidates.
std::optional<std::vector<double>> propose(const std::vector<Dimension>& space, const std::vector<Observation>& trials,
                                           const Settings& settings, bool minimize, std::mt19937_64& random);

/// A draw in [0, 1) from the 53 high bits: the same on every standard library.
inline double unit(std::mt19937_64& random) { return static_cast<double>(random() >> 11) * 0x1.0p-53; }

}  // namespace ft::tpe
