// ftrun's samplers on standard test functions, for bench/tpe_benchmark.py: for each seed, a sweep of N trials
// run one after the other (each finished before the next is proposed, as with one worker), the objective computed
// at once. Prints one JSON line per seed: the objective of every trial and the seconds spent proposing.
//   ftrun_tpe_bench FUNCTION METHOD TRIALS SEEDS      FUNCTION: branin | hartmann6 | finetune
//                                                     METHOD: tpe | tpe-univariate | random
#include "sampling/builtin_samplers.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

struct TestFunction {
  std::vector<ft::SearchDimension> space;
  std::function<double(const std::vector<double>&)> value;
};

ft::SearchDimension numeric(const char* key, ft::SearchDimension::Kind kind, double low, double high) {
  ft::SearchDimension dimension;
  dimension.key = key;
  dimension.kind = kind;
  dimension.low = low;
  dimension.high = high;
  return dimension;
}

// Branin-Hoo on [-5, 10] x [0, 15]: three global minima of 0.397887.
TestFunction branin() {
  return {{numeric("x1", ft::SearchDimension::Kind::uniform, -5, 10),
           numeric("x2", ft::SearchDimension::Kind::uniform, 0, 15)},
          [](const std::vector<double>& x) {
            const double pi = M_PI, b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
            const double a = x[1] - b * x[0] * x[0] + c * x[0] - 6;
            return a * a + 10 * (1 - t) * std::cos(x[0]) + 10;
          }};
}

// Hartmann 6-D on [0, 1]^6: one global minimum of -3.32237.
TestFunction hartmann6() {
  TestFunction f;
  for (const char* key : {"x1", "x2", "x3", "x4", "x5", "x6"}) {
    f.space.push_back(numeric(key, ft::SearchDimension::Kind::uniform, 0, 1));
  }
  f.value = [](const std::vector<double>& x) {
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double A[4][6] = {
        {10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14}, {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}};
    static const double P[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                   {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                   {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                   {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
    double total = 0;
    for (int i = 0; i < 4; ++i) {
      double inner = 0;
      for (int j = 0; j < 6; ++j) inner += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
      total -= alpha[i] * std::exp(-inner);
    }
    return total;
  };
  return f;
}

// A fine-tuning sweep's shape, every kind of dimension: a log-scale learning rate (best 1e-3), a backbone
// multiplier (best 0.1), a weight decay, an integer epoch count and an optimizer choice; the minimum is 0.
TestFunction finetune() {
  ft::SearchDimension optimizer;
  optimizer.key = "optimizer.type";
  optimizer.values = {"\"sgd\"", "\"adam\"", "\"adamw\""};
  return {{numeric("optimizer.lr", ft::SearchDimension::Kind::log_uniform, 1e-5, 1e-1),
           numeric("backbone.lr_mult", ft::SearchDimension::Kind::log_uniform, 0.01, 1),
           numeric("optimizer.weight_decay", ft::SearchDimension::Kind::uniform, 0, 0.1),
           numeric("train.epochs", ft::SearchDimension::Kind::integer, 1, 30), optimizer},
          [](const std::vector<double>& x) {
            const double lr = std::log10(x[0]) + 3, mult = std::log10(x[1]) + 1, wd = (x[2] - 0.03) * 10;
            const double epochs = (x[3] - 12) / 10;
            static const double kOptimizer[3] = {0.6, 0.1, 0.0};
            return lr * lr + 0.5 * mult * mult + 0.3 * wd * wd + epochs * epochs + kOptimizer[static_cast<int>(x[4])];
          }};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s branin|hartmann6|finetune tpe|tpe-univariate|random TRIALS SEEDS\n", argv[0]);
    return 2;
  }
  const std::string name = argv[1];
  std::string method = argv[2];
  ft::Params settings("sweep.sampler");
  if (method == "tpe-univariate") {
    method = "tpe";
    settings.set("multivariate", ft::to_param_value(false));
  }
  const std::int64_t trials = std::atoll(argv[3]), seeds = std::atoll(argv[4]);
  const TestFunction f = name == "branin" ? branin() : name == "hartmann6" ? hartmann6() : finetune();
  for (std::int64_t seed = 0; seed < seeds; ++seed) {
    ft::SamplerContext context{f.space, true, trials, static_cast<std::uint64_t>(seed)};
    const auto sampler = ft::make_builtin_sampler(method, settings, context);
    std::vector<ft::TrialSoFar> history;
    double seconds = 0;
    std::string values;
    for (std::int64_t n = 0; n < trials; ++n) {
      const auto start = std::chrono::steady_clock::now();
      // The trial seed as a sweep derives it: a fixed mix of (sweep seed, trial number).
      const auto proposal = sampler->propose(n, history, static_cast<std::uint64_t>(seed) * 1000003u + n);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ft::TrialSoFar trial;
      trial.number = n;
      trial.state = ft::TrialSoFar::State::completed;
      trial.values = proposal->values;
      trial.objective = f.value(proposal->values);
      history.push_back(trial);
      char text[32];
      std::snprintf(text, sizeof text, "%s%.10g", n ? "," : "", *trial.objective);
      values += text;
    }
    std::printf("{\"seed\": %lld, \"values\": [%s], \"propose_seconds\": %.6f}\n", static_cast<long long>(seed),
                values.c_str(), seconds);
  }
  return 0;
}
