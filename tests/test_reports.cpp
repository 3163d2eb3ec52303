// The answers of ftrun compare and ftrun overfit: stages never mixed, seeds aggregated, failures counted, values
// in numeric order; overfitting onset from sustained rises, right with eval_every > 1; all through the store's
// views where the store is involved.
#include "store/reports.h"
#include "store/results_store.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <cmath>

namespace {

ft::RunOutcome outcome(std::int64_t id, const std::string& stage, const std::string& status, const std::string& value,
                       std::optional<double> best = std::nullopt, std::optional<double> final = std::nullopt) {
  return {id, stage, status, value, best, final};
}

ft::NewRun run_named(const std::string& stage) {
  ft::NewRun run;
  run.name = "lr_sweep";
  run.stage = stage;
  run.group_id = "g";
  run.experiment_file = "x.toml";
  run.device = "cpu";
  run.torch_version = "2.11.0";
  return run;
}

// Records epochs with the given losses; NaN validation losses are epochs that were not evaluated.
void record_epochs(ft::ResultsStore& store, std::int64_t id, const std::vector<double>& train,
                   const std::vector<double>& validation) {
  std::vector<ft::MetricRow> rows;
  for (std::size_t i = 0; i < train.size(); ++i) {
    const auto epoch = static_cast<std::int64_t>(i + 1);
    rows.push_back({"epoch", epoch, epoch * 10, "train_loss", train[i]});
    if (!std::isnan(validation[i])) rows.push_back({"epoch", epoch, epoch * 10, "val_loss", validation[i]});
  }
  store.log_metrics(id, rows);
}

}  // namespace

TEST_CASE("compare keeps stages apart, orders values numerically and aggregates seeds", "[reports]") {
  const auto stages = ft::compare_by_stage({
      outcome(1, "pretrain", "completed", "0.001", 0.95, 0.95),
      outcome(2, "finetune", "completed", "0.01", 0.80, 0.78),
      outcome(3, "finetune", "completed", "0.01", 0.84, 0.80),
      outcome(4, "finetune", "completed", "0.003", 0.70, 0.70),
      outcome(5, "finetune", "diverged", "0.03"),
      outcome(6, "finetune", "failed", "0.01"),
      outcome(7, "finetune", "completed", "1e-4", 0.60, 0.55),
  });
  REQUIRE(stages.size() == 2);
  const auto& finetune = stages[0].stage == "finetune" ? stages[0] : stages[1];
  REQUIRE(finetune.values.size() == 4);
  // Numeric order, not text order (where "1e-4" would come last and "0.03" before "0.003"'s neighbours).
  CHECK(finetune.values[0].value == "1e-4");
  CHECK(finetune.values[1].value == "0.003");
  CHECK(finetune.values[2].value == "0.01");
  CHECK(finetune.values[3].value == "0.03");
  const auto& winner = finetune.values[2];
  CHECK(winner.best);
  CHECK(winner.completed == 2);
  CHECK(winner.failed == 1);
  CHECK(winner.mean_best == Approx(0.82));
  CHECK(winner.std_best == Approx(std::sqrt(0.0008)));
  CHECK(winner.mean_final == Approx(0.79));
  // The diverged value is shown, counted, and never the best.
  CHECK(finetune.values[3].diverged == 1);
  CHECK(std::isnan(finetune.values[3].mean_best));
  CHECK_FALSE(finetune.values[3].best);
  // The pretrain stage's fixed rate is compared only with itself.
  const auto& pretrain = stages[0].stage == "pretrain" ? stages[0] : stages[1];
  REQUIRE(pretrain.values.size() == 1);
  CHECK(pretrain.values[0].value == "0.001");
}

TEST_CASE("the overfitting onset is a sustained rise that never came back, not a noisy epoch", "[reports][store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  const auto id = store.begin_run(run_named("finetune"));
  // A noisy bump at epochs 2-3 that recovers, a minimum at epoch 6, then a rise to the end while training loss falls.
  record_epochs(store, id, {1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1},
                {1.0, 1.1, 1.05, 0.9, 0.8, 0.7, 0.75, 0.8, 0.85, 0.9});
  const auto rises = store.validation_rises_of(id);
  REQUIRE(rises.size() == 2);
  CHECK(rises[0].first_epoch == 2);
  CHECK(rises[0].evaluations == 2);
  CHECK(rises[0].recovered);
  CHECK(rises[1].first_epoch == 7);
  CHECK(rises[1].evaluations == 4);
  CHECK_FALSE(rises[1].recovered);
  CHECK(rises[1].best_val_loss == Approx(0.7));

  const auto report = ft::overfit_report(store.epochs_of(id), rises, "val_loss", "auto", 2);
  CHECK(report.best_epoch == 6);
  CHECK(report.onset_epoch == 7);
  CHECK(report.recovered_rises == 1);
  CHECK(report.gap_at_best == Approx(0.7 - 0.5));
  CHECK(report.gap_at_last == Approx(0.9 - 0.1));
  // A patience longer than the rise: no onset yet.
  CHECK_FALSE(ft::overfit_report(store.epochs_of(id), rises, "val_loss", "auto", 5).onset_epoch);
  // Monitoring accuracy picks the best epoch by the highest value.
  CHECK(ft::overfit_report({{1, 1, 0.5, 1, 0.6, 0}, {2, 1, 0.6, 1, 0.8, 0}, {3, 1, 0.7, 1, 0.7, 0}}, {}, "val_accuracy",
                           "auto", 1)
            .best_epoch == 2);
}

TEST_CASE("with eval_every = 2 the rise is found among evaluated epochs only", "[reports][store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  const auto id = store.begin_run(run_named("finetune"));
  const double skip = std::nan("");
  // Validation on even epochs: 0.9, 0.6, 0.5 (best, epoch 6), 0.55, 0.6, 0.7.
  record_epochs(store, id, {1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02},
                {skip, 0.9, skip, 0.6, skip, 0.5, skip, 0.55, skip, 0.6, skip, 0.7});
  const auto rises = store.validation_rises_of(id);
  REQUIRE(rises.size() == 1);
  CHECK(rises[0].first_epoch == 8);
  CHECK(rises[0].evaluations == 3);
  const auto report = ft::overfit_report(store.epochs_of(id), rises, "val_loss", "auto", 3);
  CHECK(report.best_epoch == 6);
  CHECK(report.onset_epoch == 8);
}

TEST_CASE("compare reads parameters and group learning rates from the store", "[reports][store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  for (const double lr : {0.01, 0.001}) {
    auto run = run_named("finetune");
    ft::ParamValue value;
    value.data = lr;
    run.params = {{"optimizer.lr", value}};
    const auto id = store.begin_run(run);
    store.log_metrics(id, {{"step", 1, 1, "lr/backbone", lr / 10},
                           {"step", 1, 2, "lr/backbone", lr / 5},
                           {"epoch", 1, 2, "val_accuracy", lr * 50}});
    store.finish_run(id, ft::RunStatus::completed);
  }
  const auto by_lr = store.outcomes_by("optimizer.lr", std::nullopt, std::string("finetune"));
  REQUIRE(by_lr.size() == 2);
  CHECK(by_lr[0].value == "0.01");
  CHECK(by_lr[0].best_val_accuracy == Approx(0.5));
  const auto by_group = store.outcomes_by("lr/backbone", std::nullopt, std::nullopt);
  REQUIRE(by_group.size() == 2);
  CHECK(std::stod(by_group[0].value) == Approx(0.002));  // the highest rate the group was given
  CHECK(store.outcomes_by("optimizer.lr", std::nullopt, std::string("pretrain")).empty());
}
