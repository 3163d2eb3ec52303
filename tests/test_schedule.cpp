#include "training/lr_schedule.h"

#include <catch2/catch.hpp>

#include <cmath>

namespace {

ft::ScheduleConfig of_type(const std::string& type) {
  ft::ScheduleConfig config;
  config.type = type;
  return config;
}

}  // namespace

TEST_CASE("constant keeps the learning rate", "[schedule]") {
  ft::LrSchedule schedule(of_type("constant"), 10, 3);
  for (int step : {0, 7, 29}) CHECK(schedule.factor(step) == 1.0);
}

TEST_CASE("step decays by gamma every step_size epochs", "[schedule]") {
  auto config = of_type("step");
  config.step_size = 2;
  config.gamma = 0.5;
  ft::LrSchedule schedule(config, 10, 6);
  CHECK(schedule.factor(0) == 1.0);
  CHECK(schedule.factor(19) == 1.0);   // epoch 1 (0-based) still in the first period
  CHECK(schedule.factor(20) == 0.5);   // epoch 2
  CHECK(schedule.factor(45) == 0.25);  // epoch 4
}

TEST_CASE("multistep decays at each milestone epoch", "[schedule]") {
  auto config = of_type("multistep");
  config.milestones = {1, 3};
  config.gamma = 0.1;
  ft::LrSchedule schedule(config, 10, 5);
  CHECK(schedule.factor(9) == 1.0);
  CHECK(schedule.factor(10) == Approx(0.1));
  CHECK(schedule.factor(29) == Approx(0.1));
  CHECK(schedule.factor(30) == Approx(0.01));
}

TEST_CASE("cosine anneals from 1 to min_factor over the run", "[schedule]") {
  auto config = of_type("cosine");
  ft::LrSchedule schedule(config, 10, 2);
  CHECK(schedule.factor(0) == 1.0);
  CHECK(schedule.factor(5) == Approx(0.5 * (1 + std::cos(M_PI / 4))));  // 0.853553
  CHECK(schedule.factor(10) == Approx(0.5));
  CHECK(schedule.factor(20) == Approx(0.0).margin(1e-12));
  config.min_factor = 0.1;
  CHECK(ft::LrSchedule(config, 10, 2).factor(10) == Approx(0.55));
}

TEST_CASE("linear warm-up runs in front of the schedule", "[schedule]") {
  auto config = of_type("cosine");
  config.warmup_epochs = 1;
  config.warmup_start = 0.1;
  ft::LrSchedule schedule(config, 10, 3);
  CHECK(schedule.factor(0) == Approx(0.1));
  CHECK(schedule.factor(5) == Approx(0.55));
  CHECK(schedule.factor(10) == Approx(1.0));  // cosine starts after the warm-up
  CHECK(schedule.factor(20) == Approx(0.5));  // halfway through the 20 cosine steps
}

TEST_CASE("onecycle rises to the peak, then anneals far below the start, as PyTorch's OneCycleLR", "[schedule]") {
  auto config = of_type("onecycle");  // pct_start 0.3, div_factor 25, final_div_factor 1e4
  ft::LrSchedule schedule(config, 10, 10);
  CHECK(schedule.factor(0) == Approx(0.04));
  CHECK(schedule.factor(29) == Approx(1.0));  // the peak at pct_start * 100 - 1
  CHECK(schedule.factor(64) == Approx(0.5 * (1 + 4e-6)));
  CHECK(schedule.factor(99) == Approx(4e-6));
}

TEST_CASE("plateau decays after patience evaluations without improvement", "[schedule]") {
  auto config = of_type("plateau");
  config.plateau_patience = 1;
  config.plateau_factor = 0.5;
  ft::LrSchedule schedule(config, 10, 10);
  schedule.on_evaluation(true);
  schedule.on_evaluation(false);
  CHECK(schedule.factor(30) == 1.0);
  schedule.on_evaluation(false);
  CHECK(schedule.factor(30) == 0.5);
  schedule.on_evaluation(false);
  schedule.on_evaluation(false);
  CHECK(schedule.factor(30) == 0.25);
}

TEST_CASE("improvement means lower for losses and higher for accuracies, beyond min_delta", "[schedule]") {
  CHECK(ft::improves("val_loss", "auto", 0.5, 0.6, 0.0));
  CHECK_FALSE(ft::improves("val_loss", "auto", 0.55, 0.6, 0.1));
  CHECK(ft::improves("val_accuracy", "auto", 0.8, 0.7, 0.05));
  CHECK_FALSE(ft::improves("val_accuracy", "auto", 0.7, 0.8, 0.0));
  CHECK(ft::improves("val_accuracy", "min", 0.7, 0.8, 0.0));  // an explicit mode wins over the name
}
