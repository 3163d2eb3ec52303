// The learning-rate range test's arithmetic: smoothing with bias correction, stopping, suggestions, and its
// ramp in the schedule.
#include "training/lr_range.h"
#include "training/lr_schedule.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

using Catch::Matchers::Contains;

namespace {

// A range test's typical curve: flat at low rates, falling, a minimum near lr = 0.1, then blowing up; with noise.
std::pair<std::vector<double>, std::vector<double>> synthetic_curve(double noise) {
  std::mt19937 random(3);
  std::normal_distribution<double> jitter(0, noise);
  std::vector<double> lrs, losses;
  for (int i = 0; i < 100; ++i) {
    const double log_lr = -6 + 7.0 * i / 99;  // 1e-6 .. 10
    lrs.push_back(std::pow(10, log_lr));
    const double fall = 1 / (1 + std::exp(-3 * (log_lr + 2.5)));  // centred at 10^-2.5
    const double blow_up = log_lr > -1 ? std::pow(log_lr + 1, 2) * 2 : 0;
    losses.push_back(2.3 - 1.5 * fall + blow_up + jitter(random));
  }
  return {lrs, losses};
}

}  // namespace

TEST_CASE("the smoothed loss is bias-corrected, and the test stops at a blow-up or a NaN", "[lr_find]") {
  ft::LrRangeMonitor monitor(0.98, 4);
  CHECK_FALSE(monitor.add(2.0));
  CHECK(monitor.smoothed().front() == Approx(2.0));  // not pulled towards zero
  CHECK_FALSE(monitor.add(1.0));
  CHECK(monitor.smoothed().back() < 2.0);
  CHECK(monitor.smoothed().back() > 1.0);
  ft::LrRangeMonitor fast(0.0, 4);  // no smoothing
  CHECK_FALSE(fast.add(1.0));
  CHECK_FALSE(fast.add(3.9));
  CHECK(fast.add(4.1));
  ft::LrRangeMonitor nan(0.5, 4);
  CHECK_FALSE(nan.add(1.0));
  CHECK(nan.add(std::nan("")));
}

TEST_CASE("suggestions fall where the loss falls, and noise does not move the valley much", "[lr_find]") {
  for (const double noise : {0.0, 0.05}) {
    INFO("noise " << noise);
    const auto [lrs, losses] = synthetic_curve(noise);
    ft::LrRangeMonitor monitor(0.9, std::numeric_limits<double>::infinity());  // smoothing only, never stopping
    for (const double loss : losses) monitor.add(loss);
    const auto& smoothed = monitor.smoothed();
    const auto suggestions = ft::suggest_learning_rates(lrs, smoothed);
    REQUIRE(suggestions.valley);
    REQUIRE(suggestions.steepest);
    REQUIRE(suggestions.minimum_over_10);
    // The fall is centred at 10^-2.5 (before smoothing lags it); the suggestions lie on the falling side.
    CHECK(*suggestions.valley > 1e-4);
    CHECK(*suggestions.valley < 1e-1);
    CHECK(*suggestions.steepest > 1e-4);
    CHECK(*suggestions.steepest < 1e-1);
    CHECK(*suggestions.minimum_over_10 < 1e-1);
    CHECK_THAT(suggestions.recommendation, Contains("valley"));
  }
  // A curve that only rises: no descent to suggest from.
  std::vector<double> lrs, rising;
  for (int i = 0; i < 50; ++i) {
    lrs.push_back(std::pow(10, -5 + i * 0.1));
    rising.push_back(1 + i * 0.1);
  }
  CHECK_THAT(ft::suggest_learning_rates(lrs, rising).recommendation, Contains("never fell"));
  CHECK_THAT(ft::suggest_learning_rates({1e-3, 1e-2}, {1, 0.5}).recommendation, Contains("too few steps"));
  CHECK_THAT(ft::text_plot(lrs, rising), Contains("(learning rate, log scale)") && Contains("*"));
}

TEST_CASE("the range schedule rises exponentially from start to end over its steps", "[lr_find][schedule]") {
  ft::ScheduleConfig config;
  config.type = "lr_range";
  config.range_start = 1e-4;
  config.range_end = 1e2;
  config.range_steps = 7;
  ft::LrSchedule schedule(config, 3, 100);
  CHECK(schedule.factor(0) == Approx(1e-4));
  CHECK(schedule.factor(3) == Approx(1e-1));
  CHECK(schedule.factor(6) == Approx(1e2));
  CHECK(schedule.factor(60) == Approx(1e2));  // held at the end
}
