// The answers of ftrun compare and ftrun overfit: stages never mixed, seeds aggregated, failures counted, values
// in numeric order; overfitting onset from sustained rises, right with eval_every > 1; all through the store's
// views where the store is involved.
#include "store/reports.h"
#include "store/results_store.h"
#include "store/run_query.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <variant>

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
      outcome(8, "finetune", "pruned", "0.003", 0.50, 0.50),
  });
  REQUIRE(stages.size() == 2);
  const auto& finetune = stages[0].stage == "finetune" ? stages[0] : stages[1];
  REQUIRE(finetune.values.size() == 4);
  // Numeric order, not text order (where "1e-4" would come last and "0.03" before "0.003"'s neighbours).
  CHECK(finetune.values[0].value == "1e-4");
  CHECK(finetune.values[1].value == "0.003");
  CHECK(finetune.values[1].pruned == 1);  // counted, and not in the mean
  CHECK(finetune.values[1].completed == 1);
  CHECK(finetune.values[1].mean_best == Approx(0.70));
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
  CHECK(rises[1].train_loss_before == Approx(0.5));
  CHECK(rises[1].lowest_train_loss == Approx(0.1));
  // The per-run query is the view's own: another run in the store changes nothing, and the view agrees.
  const auto other = store.begin_run(run_named("finetune"));
  record_epochs(store, other, {1.0, 0.5, 0.2}, {1.0, 1.5, 2.0});
  CHECK(store.validation_rises_of(id).size() == 2);
  CHECK(store.validation_rises_of(other).size() == 1);
  SQLite::Database db(dir / "ftrun.db");
  CHECK(db.execAndGet("SELECT group_concat(first_epoch || '-' || last_epoch || '-' || recovered) FROM "
                      "(SELECT * FROM validation_rises WHERE run_id = 1 ORDER BY first_epoch)")
            .getString() == "2-3-1,7-10-0");

  const auto report =
      ft::overfit_report(ft::epoch_facts(store.epochs_of(id), "val_loss", "auto"), rises, "val_loss", 2);
  CHECK(report.best_epoch == 6);
  CHECK(report.onset_epoch == 7);
  CHECK(report.recovered_rises == 1);
  CHECK(report.gap_at_best == Approx(0.7 - 0.5));
  CHECK(report.gap_at_last == Approx(0.9 - 0.1));
  // A patience longer than the rise: no onset yet.
  CHECK_FALSE(
      ft::overfit_report(ft::epoch_facts(store.epochs_of(id), "val_loss", "auto"), rises, "val_loss", 5).onset_epoch);
  // Monitoring accuracy picks the best epoch by the highest value.
  CHECK(
      ft::epoch_facts({{1, 1, 0.5, 1, 0.6, 0}, {2, 1, 0.6, 1, 0.8, 0}, {3, 1, 0.7, 1, 0.7, 0}}, "val_accuracy", "auto")
          .best_epoch == 2);
}

TEST_CASE("many runs are read in pieces with the same answers as one by one", "[reports][store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  // More runs than one statement lists (900), with rises that differ by run.
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 950; ++i) {
    auto run = run_named("finetune");
    if (i % 3 == 0) run.params = {{"train.monitor", ft::to_param_value(std::string("val_accuracy"))}};
    ids.push_back(store.begin_run(run));
    const double rise = 0.01 * (i % 7);
    record_epochs(store, ids.back(), {1.0, 0.8, 0.6, 0.4}, {1.0, 0.9 + rise, 0.95 + rise, 1.0 + rise});
  }
  const auto epochs = store.epochs_of_runs(ids);
  const auto rises = store.validation_rises_of_runs(ids);
  const auto monitors = store.param_of_runs(ids, "train.monitor");
  REQUIRE(epochs.size() == ids.size());
  CHECK(monitors.size() == 317);
  for (const std::int64_t id : {ids[0], ids[1], ids[899], ids[900], ids[949]}) {
    CHECK(epochs.at(id).size() == store.epochs_of(id).size());
    CHECK(epochs.at(id).back().val_loss == store.epochs_of(id).back().val_loss);
    const auto one = store.validation_rises_of(id);
    const auto found = rises.find(id);
    CHECK((found == rises.end() ? 0 : found->second.size()) == one.size());
    if (!one.empty()) CHECK(found->second.front().first_epoch == one.front().first_epoch);
    CHECK((monitors.count(id) ? std::optional(monitors.at(id)) : std::nullopt) == store.param_of(id, "train.monitor"));
  }
  CHECK(store.epoch_facts_of_runs(ids).size() == ids.size());
}

TEST_CASE("the best epochs the store keeps are those worked out from the runs' epochs", "[reports][store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  const double skip = std::nan("");
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    const char* monitor;  // nullptr: not recorded (the defaults, val_loss and auto)
    const char* mode;
    std::vector<double> train, validation, accuracy, perplexity;
  };
  const std::vector<Case> cases = {
      {nullptr, nullptr, {1.0, 0.8, 0.6, 0.4, 0.3}, {1.0, 0.7, 0.7, 0.9, 1.2}, {}, {}},   // a tie: the first
      {"val_loss", "auto", {1.0, 0.8, 0.6, 0.4}, {skip, 0.9, skip, 0.8}, {}, {}},         // eval_every = 2
      {"val_loss", "max", {1.0, 0.8, 0.6}, {0.5, 0.9, 0.7}, {}, {}},                      // told: higher
      {"val_accuracy", "auto", {1.0, 0.8, 0.6}, {0.5, 0.6, 0.7}, {0.6, 0.8, 0.8}, {}},    // an accuracy: higher
      {"val_accuracy", "min", {1.0, 0.8, 0.6}, {0.5, 0.6, 0.7}, {0.6, 0.5, 0.8}, {}},     // told: lower
      {"train_loss", "auto", {1.0, 0.8, 0.9}, {0.5, 0.6, 0.7}, {}, {}},                   // a training metric
      {"val_perplexity", "auto", {3.0, 2.0, 1.0}, {2.0, 1.5, 1.8}, {}, {9.0, 7.0, 8.0}},  // the task's primary
      {"val_loss", "auto", {1.0, 0.8}, {inf, 0.9}, {}, {}},                               // an infinite loss
      {"val_accuracy", "auto", {1.0, 0.8}, {0.5, 0.6}, {}, {}},                           // never measured
  };
  std::vector<std::int64_t> ids;
  for (const auto& c : cases) {
    auto run = run_named("finetune");
    if (!c.perplexity.empty()) {
      run.task = "masked_lm";
      run.primary_metric = "perplexity";
      run.primary_direction = "min";
    }
    if (c.monitor) {
      run.params = {{"train.monitor", ft::to_param_value(std::string(c.monitor))},
                    {"train.monitor_mode", ft::to_param_value(std::string(c.mode))}};
    }
    ids.push_back(store.begin_run(run));
    record_epochs(store, ids.back(), c.train, c.validation);
    std::vector<ft::MetricRow> rows;
    for (std::size_t i = 0; i < c.accuracy.size(); ++i) {
      rows.push_back({"epoch", static_cast<std::int64_t>(i + 1), 10, "val_accuracy", c.accuracy[i]});
    }
    for (std::size_t i = 0; i < c.perplexity.size(); ++i) {
      rows.push_back({"epoch", static_cast<std::int64_t>(i + 1), 10, "val_perplexity", c.perplexity[i]});
    }
    if (!rows.empty()) store.log_metrics(ids.back(), rows);
  }
  const auto kept = store.epoch_facts_of_runs(ids);
  const std::vector<std::optional<std::int64_t>> expected_best = {2, 4, 2, 2, 2, 2, 2, 2, std::nullopt};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    INFO("case " << i);
    const auto monitor = store.param_of(ids[i], "train.monitor").value_or("val_loss");
    const auto mode = store.param_of(ids[i], "train.monitor_mode").value_or("auto");
    const ft::EpochFacts worked_out = ft::epoch_facts(store.epochs_of(ids[i]), monitor, mode);
    const ft::EpochFacts& stored = kept.at(ids[i]);
    CHECK(worked_out.best_epoch == expected_best[i]);
    CHECK(stored.best_epoch == worked_out.best_epoch);
    CHECK(stored.last_epoch == worked_out.last_epoch);
    const auto same = [](double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == Approx(b); };
    CHECK(same(stored.gap_at_best, worked_out.gap_at_best));
    CHECK(same(stored.gap_at_last, worked_out.gap_at_last));
  }
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
  const auto report =
      ft::overfit_report(ft::epoch_facts(store.epochs_of(id), "val_loss", "auto"), rises, "val_loss", 3);
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
  CHECK(by_lr[0].best_val_primary == Approx(0.5));
  CHECK(by_lr[0].primary_metric == "accuracy");
  const auto by_group = store.outcomes_by("lr/backbone", std::nullopt, std::nullopt);
  REQUIRE(by_group.size() == 2);
  CHECK(std::stod(by_group[0].value) == Approx(0.002));  // the highest rate the group was given
  CHECK(store.outcomes_by("optimizer.lr", std::nullopt, std::string("pretrain")).empty());
}

TEST_CASE("where and order-by expressions compile to bound SQL and point at mistakes", "[reports][query]") {
  const auto where = ft::compile_where("optimizer.lr < 1e-3 and (status = completed or val_accuracy.max >= 0.9)");
  CHECK(where.sql.find("1e-3") == std::string::npos);  // values are bound, never pasted
  REQUIRE(where.values.size() == 4);
  CHECK(std::get<std::string>(where.values[0]) == "optimizer.lr");
  CHECK(std::get<double>(where.values[1]) == 0.001);
  CHECK(std::get<std::string>(where.values[2]) == "completed");
  // A hostile value stays a value.
  const auto hostile = ft::compile_where("name = \"x') ; DROP TABLE runs; --\"");
  CHECK(hostile.sql.find("DROP") == std::string::npos);
  CHECK_THROWS_WITH(ft::compile_where("optimizer.lr <"), Catch::Matchers::Contains("column 15: expected a value"));
  CHECK_THROWS_WITH(ft::compile_where("val_loss.median > 1"), Catch::Matchers::Contains("unknown summary 'median'"));
  CHECK_THROWS_WITH(ft::compile_where("seed = 1 seed"), Catch::Matchers::Contains("column 10: unexpected 'seed'"));
  CHECK_THROWS_WITH(ft::compile_where("name = 'open"), Catch::Matchers::Contains("never closed"));
  CHECK_THROWS_WITH(ft::compile_order_by("val_loss.min sideways"), Catch::Matchers::Contains("column 14"));
}

TEST_CASE("runs are filtered and ordered by parameters, run fields and metric summaries", "[reports][query][store]") {
  TempDir dir;
  ft::ResultsStore store(dir / "ftrun.db");
  for (const double lr : {0.1, 0.01, 0.001}) {
    auto run = run_named("finetune");
    ft::ParamValue value;
    value.data = lr;
    run.params = {{"optimizer.lr", value}};
    const auto id = store.begin_run(run);
    // Lower rates reach lower validation losses here; the minimum is at epoch 2.
    record_epochs(store, id, {1.0, 0.8, 0.6}, {lr * 10, lr * 5, lr * 8});
    store.finish_run(id, lr == 0.1 ? ft::RunStatus::diverged : ft::RunStatus::completed);
  }
  ft::RunFilter filter;
  filter.where = ft::compile_where("optimizer.lr < 0.05 and status = completed and val_loss.argmin = 2");
  filter.order_by = ft::compile_order_by("val_loss.min asc");
  const auto runs = store.list_runs(filter);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].id == 3);  // lr 0.001: lowest validation loss first
  CHECK(runs[1].id == 2);
  filter.where = ft::compile_where("not status = completed");
  filter.order_by.reset();
  REQUIRE(store.list_runs(filter).size() == 1);
  CHECK(store.list_runs(filter)[0].status == "diverged");
  CHECK(store.params_of(1).at(0).first == "optimizer.lr");
  // Chosen columns: a parameter (its text), a metric summary (a number), and nothing where a run has none.
  filter.where.reset();
  filter.columns = ft::compile_columns("optimizer.lr, val_loss.min, backbone.width");
  CHECK(filter.columns->names == std::vector<std::string>{"optimizer.lr", "val_loss.min", "backbone.width"});
  const auto with_columns = store.list_runs(filter);
  REQUIRE(with_columns.size() == 3);
  REQUIRE(with_columns[2].columns.size() == 3);  // run 1, lr 0.1
  CHECK(std::get<double>(with_columns[2].columns[0]) == 0.1);
  CHECK(std::get<double>(with_columns[2].columns[1]) == Approx(0.5));
  CHECK(std::holds_alternative<std::monostate>(with_columns[2].columns[2]));
  CHECK_THROWS_WITH(ft::compile_columns("val_loss.min desc"), Catch::Matchers::Contains("column 14: unexpected"));
  CHECK_THROWS_WITH(ft::compile_columns("lr"), Catch::Matchers::Contains("unknown field 'lr'"));
  CHECK(store.metrics_of(1).size() == 6);
}
