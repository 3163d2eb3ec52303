// ftrun's TPE against Optuna's on the same trial histories and candidates (tests/reference/tpe_reference.py runs
// Optuna from the virtualenv): the good/bad split, the densities l(x) and g(x) of every candidate, and the choice.
#include "sampling/tpe.h"
#include "sampling/truncated_normal.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

namespace {

nlohmann::json optuna_reference() {
  const std::string command = std::string(FT_PYTHON) + " " + FT_SOURCE_DIR + "/tests/reference/tpe_reference.py";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string text;
  char buffer[65536];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0;) text.append(buffer, n);
  return text.empty() ? nlohmann::json() : nlohmann::json::parse(text);
}

ft::tpe::Dimension dimension_of(const nlohmann::json& json) {
  ft::tpe::Dimension dimension;
  if (json["kind"] == "categorical") {
    dimension.kind = ft::tpe::Dimension::Kind::categorical;
    dimension.choices = json["choices"];
  } else {
    dimension.low = json["low"];
    dimension.high = json["high"];
    dimension.step = json["step"];
    dimension.log = json["log"];
  }
  return dimension;
}

std::vector<ft::tpe::Observation> trials_of(const nlohmann::json& json) {
  std::vector<ft::tpe::Observation> trials;
  for (const auto& row : json) {
    ft::tpe::Observation trial;
    trial.number = row["number"];
    trial.values = row["values"].get<std::vector<double>>();
    const std::string state = row["state"];
    trial.state = state == "complete" ? ft::tpe::Observation::State::completed
                  : state == "pruned" ? ft::tpe::Observation::State::pruned
                                      : ft::tpe::Observation::State::running;
    if (row.contains("objective")) trial.objective = row["objective"];
    if (row.contains("last_step")) {
      trial.last_step = row["last_step"];
      trial.last_value = row["last_value"];
    }
    trials.push_back(trial);
  }
  return trials;
}

std::vector<std::int64_t> numbers(const std::vector<const ft::tpe::Observation*>& list) {
  std::vector<std::int64_t> out;
  for (const auto* trial : list) out.push_back(trial->number);
  return out;
}

}  // namespace

TEST_CASE(
    "TPE's split, densities and choice equal Optuna's on the same histories and candidates, per dimension and "
    "over the whole space",
    "[tpe]") {
  const auto cases = optuna_reference();
  if (cases.is_null()) {
    WARN("not run: Optuna is not installed in " FT_PYTHON " (scripts/setup installs it)");
    return;
  }
  REQUIRE(cases.size() == 5);
  for (const auto& reference : cases) {
    const auto trials = trials_of(reference["trials"]);
    INFO("a history of " << trials.size() << " trials, " << reference["direction"]);
    const auto parts = ft::tpe::split(trials, reference["direction"] == "minimize");
    CHECK(numbers(parts.below) == reference["below"].get<std::vector<std::int64_t>>());
    CHECK(numbers(parts.above) == reference["above"].get<std::vector<std::int64_t>>());
    for (std::size_t d = 0; d < reference["dimensions"].size(); ++d) {
      const auto& expected = reference["dimensions"][d];
      INFO("dimension " << expected["name"]);
      const auto dimension = dimension_of(expected["dimension"]);
      auto column = [&](const std::vector<const ft::tpe::Observation*>& list) {
        std::vector<double> values;
        for (const auto* trial : list) values.push_back(trial->values[d]);
        return values;
      };
      const ft::tpe::ParzenEstimator below(column(parts.below), dimension, 1.0);
      const ft::tpe::ParzenEstimator above(column(parts.above), dimension, 1.0);
      const auto candidates = expected["candidates"].get<std::vector<double>>();
      const auto log_l = below.log_pdf(candidates), log_g = above.log_pdf(candidates);
      for (std::size_t i = 0; i < candidates.size(); ++i) {
        CHECK(log_l[i] == Approx(expected["log_l"][i].get<double>()).margin(1e-6).epsilon(1e-9));
        CHECK(log_g[i] == Approx(expected["log_g"][i].get<double>()).margin(1e-6).epsilon(1e-9));
      }
      CHECK(ft::tpe::choose(below, above, candidates).best == expected["best"].get<std::size_t>());
    }
    // Multivariate: one estimator over the four dimensions (continuous, log, integer, categorical) at once.
    std::vector<ft::tpe::Dimension> space;
    for (const auto& d : reference["dimensions"]) space.push_back(dimension_of(d["dimension"]));
    const ft::tpe::JointParzenEstimator below(parts.below, space, 1.0), above(parts.above, space, 1.0);
    const auto& joint = reference["joint"];
    const auto candidates = joint["candidates"].get<std::vector<std::vector<double>>>();
    const auto log_l = below.log_pdf(candidates), log_g = above.log_pdf(candidates);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      CHECK(log_l[i] == Approx(joint["log_l"][i].get<double>()).margin(1e-6).epsilon(1e-9));
      CHECK(log_g[i] == Approx(joint["log_g"][i].get<double>()).margin(1e-6).epsilon(1e-9));
    }
    CHECK(ft::tpe::choose(below, above, candidates).best == joint["best"].get<std::size_t>());
  }
}

TEST_CASE("the truncated normal's log mass and quantiles hold far into the tails", "[tpe]") {
  using namespace ft::truncated_normal;
  CHECK(log_gauss_mass(-1, 1) == Approx(std::log(0.6826894921370859)).epsilon(1e-12));
  // Both ends deep in one tail: 1 - Φ(30) underflows as a difference, not in log space.
  CHECK(std::isfinite(log_gauss_mass(30, 31)));
  CHECK(log_gauss_mass(30, 31) == Approx(log_gauss_mass(-31, -30)).epsilon(1e-12));
  CHECK(log_ndtr(-40) == Approx(-804.6084420137538).epsilon(1e-12));
  for (const double q : {0.001, 0.3, 0.5, 0.9}) {
    const double x = ppf(q, -2, 3);
    // Φ(x) = Φ(a) + q (Φ(b) - Φ(a)).
    const double phi = [](double v) { return 0.5 * std::erfc(-v / std::sqrt(2.0)); }(x);
    CHECK(phi == Approx(0.5 * std::erfc(2 / std::sqrt(2.0)) + q * std::exp(log_gauss_mass(-2, 3))).epsilon(1e-8));
  }
  CHECK(ppf(0.5, 5, 6) > 5);
  CHECK(ppf(0.5, 5, 6) < 6);
}

TEST_CASE("TPE proposes near the good trials once enough have finished, the same for the same seed", "[tpe]") {
  std::vector<ft::tpe::Dimension> space(1);
  space[0].low = 0;
  space[0].high = 10;
  std::vector<ft::tpe::Observation> trials;
  for (int n = 0; n < 20; ++n) {
    ft::tpe::Observation trial;
    trial.number = n;
    trial.values = {n * 0.5};
    trial.objective = std::fabs(n * 0.5 - 7.0);  // best at 7
    trials.push_back(trial);
  }
  ft::tpe::Settings settings;
  for (const bool multivariate : {true, false}) {
    settings.multivariate = multivariate;
    std::mt19937_64 first(42), second(42);
    const auto proposed = ft::tpe::propose(space, trials, settings, true, first);
    REQUIRE(proposed);
    CHECK(std::fabs((*proposed)[0] - 7.0) < 1.5);
    CHECK(ft::tpe::propose(space, trials, settings, true, second) == proposed);
  }
  std::mt19937_64 first(42);
  // Before startup_trials have finished, the caller draws at random.
  trials.resize(9);
  CHECK_FALSE(ft::tpe::propose(space, trials, settings, true, first));
  CHECK(ft::tpe::default_weights(30).front() == Approx(1.0 / 30));
  CHECK(ft::tpe::gamma(300) == 25);
  CHECK(ft::tpe::gamma(11) == 2);
}
