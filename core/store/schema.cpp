#include "store/schema.h"

#include "config/monitor_defaults.h"

#include <functional>
#include <string>

namespace ft {
namespace {

// Version 1 → 2: runs gains the status 'diverged' and metrics.value may be NULL (a NaN). SQLite cannot alter a
// CHECK or NOT NULL constraint, so both tables are rebuilt (https://sqlite.org/lang_altertable.html, "making
// other kinds of table schema changes"); the views that read them are dropped first and recreated after.
const char* const kMigrateV1ToV2 = R"sql(
DROP VIEW IF EXISTS overfitting;
DROP VIEW IF EXISTS validation_rises;
DROP VIEW IF EXISTS evaluations;
DROP VIEW IF EXISTS run_summary;
DROP VIEW IF EXISTS epoch_metrics;
CREATE TABLE runs_v2 (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL,
  stage           TEXT NOT NULL DEFAULT '',
  group_id        TEXT NOT NULL,
  parent_run_id   INTEGER REFERENCES runs(id),
  status          TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'diverged')),
  started_at      TEXT NOT NULL,
  ended_at        TEXT,
  experiment_file TEXT NOT NULL,
  config_toml     TEXT NOT NULL,
  seed            INTEGER NOT NULL,
  device          TEXT NOT NULL,
  threads         INTEGER NOT NULL,
  ftrun_version   TEXT NOT NULL,
  torch_version   TEXT NOT NULL,
  host            TEXT NOT NULL,
  pid             INTEGER NOT NULL,
  checkpoint_path TEXT,
  error           TEXT
);
INSERT INTO runs_v2 SELECT * FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v2 RENAME TO runs;
CREATE TABLE metrics_v2 (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  scope  TEXT NOT NULL CHECK (scope IN ('step', 'epoch', 'final')),
  epoch  INTEGER NOT NULL,
  step   INTEGER NOT NULL,
  name   TEXT NOT NULL,
  value  REAL
);
INSERT INTO metrics_v2 SELECT * FROM metrics;
DROP TABLE metrics;
ALTER TABLE metrics_v2 RENAME TO metrics;
)sql";

// Migrations are frozen: each spells out its tables as they were at its version, never through the current
// schema's text, which will go on changing.

// Version 2 → 3: epoch_metrics becomes a table kept by triggers (it was a view regrouping every metric row, which
// took seconds per query on a store of a thousand runs), filled here from the rows already recorded; the views
// that read it are dropped here and created again by the current schema.
const char* const kMigrateV2ToV3 = R"sql(
DROP VIEW IF EXISTS overfitting;
DROP VIEW IF EXISTS validation_rises;
DROP VIEW IF EXISTS evaluations;
DROP VIEW IF EXISTS run_summary;
DROP VIEW IF EXISTS epoch_metrics;
CREATE TABLE epoch_metrics (
  run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch             INTEGER NOT NULL,
  train_loss        REAL,
  train_accuracy    REAL,
  val_loss          REAL,
  val_accuracy      REAL,
  lr                REAL,
  images_per_second REAL,
  seconds           REAL,
  PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;
INSERT INTO epoch_metrics
  SELECT run_id, epoch,
         MAX(CASE WHEN name = 'train_loss' THEN value END),
         MAX(CASE WHEN name = 'train_accuracy' THEN value END),
         MAX(CASE WHEN name = 'val_loss' THEN value END),
         MAX(CASE WHEN name = 'val_accuracy' THEN value END),
         MAX(CASE WHEN name = 'lr' THEN value END),
         MAX(CASE WHEN name = 'images_per_second' THEN value END),
         MAX(CASE WHEN name = 'seconds' THEN value END)
  FROM metrics
  WHERE scope = 'epoch' AND name IN ('train_loss', 'train_accuracy', 'val_loss', 'val_accuracy', 'lr',
                                     'images_per_second', 'seconds')
  GROUP BY run_id, epoch;
)sql";

// Version 3 → 4: sweeps and their trials (config/sweep.h, docs/sweeps.md), and the run status 'pruned' (runs
// rebuilt as in 1 → 2; run_summary, which reads runs, is dropped first and recreated after).
const char* const kMigrateV3ToV4 = R"sql(
DROP VIEW IF EXISTS run_summary;
CREATE TABLE runs_v4 (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL,
  stage           TEXT NOT NULL DEFAULT '',
  group_id        TEXT NOT NULL,
  parent_run_id   INTEGER REFERENCES runs(id),
  status          TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'diverged',
                                                  'pruned')),
  started_at      TEXT NOT NULL,
  ended_at        TEXT,
  experiment_file TEXT NOT NULL,
  config_toml     TEXT NOT NULL,
  seed            INTEGER NOT NULL,
  device          TEXT NOT NULL,
  threads         INTEGER NOT NULL,
  ftrun_version   TEXT NOT NULL,
  torch_version   TEXT NOT NULL,
  host            TEXT NOT NULL,
  pid             INTEGER NOT NULL,
  checkpoint_path TEXT,
  error           TEXT
);
INSERT INTO runs_v4 SELECT * FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v4 RENAME TO runs;
CREATE TABLE sweeps (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL,
  experiment_file TEXT NOT NULL,
  fingerprint     TEXT NOT NULL UNIQUE,
  definition      TEXT NOT NULL,
  overrides       TEXT NOT NULL,
  method          TEXT NOT NULL CHECK (method IN ('grid', 'random')),
  metric          TEXT NOT NULL,
  direction       TEXT NOT NULL CHECK (direction IN ('min', 'max')),
  max_retries     INTEGER NOT NULL,
  created_at      TEXT NOT NULL
);

CREATE TABLE trials (
  sweep_id     INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
  number       INTEGER NOT NULL,
  params       TEXT NOT NULL,
  seed         INTEGER NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'completed', 'pruned', 'failed')),
  run_id       INTEGER REFERENCES runs(id),
  attempts     INTEGER NOT NULL DEFAULT 0,
  host         TEXT,
  pid          INTEGER,
  heartbeat_at TEXT,
  error        TEXT,
  PRIMARY KEY (sweep_id, number)
) WITHOUT ROWID;
)sql";

// Version 4 → 5: each run's task and its primary metric (accuracy for classification, perplexity for masked_lm),
// and that metric per epoch in epoch_metrics, so the views and `ftrun runs` rank runs by it instead of by accuracy.
// Every run before version 5 was a classification run: its primary metric is accuracy, filled in here.
const char* const kMigrateV4ToV5 = R"sql(
DROP VIEW IF EXISTS overfitting;
DROP VIEW IF EXISTS validation_rises;
DROP VIEW IF EXISTS evaluations;
DROP VIEW IF EXISTS run_summary;
DROP TRIGGER IF EXISTS epoch_metrics_on_insert;
ALTER TABLE runs ADD COLUMN task TEXT NOT NULL DEFAULT 'classification';
ALTER TABLE runs ADD COLUMN primary_metric TEXT NOT NULL DEFAULT 'accuracy';
ALTER TABLE runs ADD COLUMN primary_direction TEXT NOT NULL DEFAULT 'max';
ALTER TABLE epoch_metrics ADD COLUMN train_primary REAL;
ALTER TABLE epoch_metrics ADD COLUMN val_primary REAL;
UPDATE epoch_metrics SET train_primary = train_accuracy, val_primary = val_accuracy;
)sql";

// Version 5 → 6: each parameter says whether the experiment wrote it or it was a default (ftrun's or a plugin's),
// and each trial which sampler proposed it. Rows recorded before did not keep these: their parameters all read as
// written, their trials' sampler is empty.
// A sweep's method, which was grid or random, may now name any sampler: SQLite cannot alter a CHECK, so the table
// is rebuilt (as in version 1 → 2).
const char* const kMigrateV5ToV6 = R"sql(
ALTER TABLE run_params ADD COLUMN is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1));
ALTER TABLE trials ADD COLUMN sampler TEXT NOT NULL DEFAULT '';
CREATE TABLE sweeps_v6 (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL,
  experiment_file TEXT NOT NULL,
  fingerprint     TEXT NOT NULL UNIQUE,
  definition      TEXT NOT NULL,
  overrides       TEXT NOT NULL,
  method          TEXT NOT NULL CHECK (method <> ''),
  metric          TEXT NOT NULL,
  direction       TEXT NOT NULL CHECK (direction IN ('min', 'max')),
  max_retries     INTEGER NOT NULL,
  created_at      TEXT NOT NULL
);
INSERT INTO sweeps_v6 SELECT * FROM sweeps;
DROP TABLE sweeps;
ALTER TABLE sweeps_v6 RENAME TO sweeps;
)sql";

// Per-run results kept by the triggers on epoch_metrics (epoch_metrics_triggers_sql), so that run_summary, and with
// it `ftrun runs`, `compare` and `serve`, reads a row per run, and `ftrun overfit` a run's rises, instead of working
// them out from every run's epochs at each question (10,000 runs: docs/performance.md).
const char* const kKeptTablesSql = R"sql(
-- Each run's best and last results, rebuilt from its rows of epoch_metrics by triggers whenever they change: what
-- run_summary and `ftrun overfit` read (a run without epochs has no row here).
CREATE TABLE IF NOT EXISTS run_results (
  run_id             INTEGER NOT NULL PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  epochs             INTEGER,  -- the last epoch recorded
  best_val_accuracy  REAL,
  best_val_loss      REAL,
  final_val_accuracy REAL,     -- of the last epoch with a validation
  best_val_primary   REAL,     -- the best by the run's primary_direction
  final_val_primary  REAL,
  best_epoch         INTEGER,  -- the best by the run's train.monitor and train.monitor_mode
  gap_at_best        REAL,     -- val_loss - train_loss there
  gap_at_last        REAL      -- the same at the last epoch its monitor was measured
);

-- Every stretch of consecutive evaluations whose validation loss stayed above its running minimum (the lowest
-- value before the stretch began): where it began and ended, how many evaluations it lasted, the minimum it rose
-- above and how high it went, the training loss before it and the lowest training loss during it, and whether
-- validation loss came back down to a new minimum afterwards (recovered = 1) or training ended inside it. Rebuilt
-- for a run by triggers whenever its training or validation loss changes (it was a view until schema 7).
CREATE TABLE IF NOT EXISTS validation_rises (
  run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  first_epoch       INTEGER NOT NULL,
  last_epoch        INTEGER NOT NULL,
  evaluations       INTEGER NOT NULL,
  best_val_loss     REAL,
  worst_val_loss    REAL,
  train_loss_before REAL,
  lowest_train_loss REAL,
  recovered         INTEGER NOT NULL,
  PRIMARY KEY (run_id, first_epoch)
);
)sql";

// Run `e.run_id`'s value of `key` in run_params, or `otherwise` when it recorded none.
std::string param_or(const char* key, const char* otherwise) {
  return std::string("COALESCE((SELECT p.value FROM run_params p WHERE p.run_id = e.run_id AND p.key = '") + key +
         "'), '" + otherwise + "')";
}

// The metric that picks run `e.run_id`'s best epoch (its train.monitor).
std::string monitor_sql() { return param_or("train.monitor", kDefaultMonitor); }

// The SQL of `of(column)` for the epoch_metrics column that the monitor names: reports.cpp's metric() in SQL, the
// metric's own column, else the task's primary metric on that split.
std::string by_monitor(const std::function<std::string(const std::string&)>& of) {
  const std::string monitor = monitor_sql();
  std::string sql = "CASE " + monitor;
  for (const std::string column : {"val_loss", "val_accuracy", "train_loss", "train_accuracy"}) {
    sql += " WHEN '" + column + "' THEN " + of(column);
  }
  return sql + "\n      ELSE CASE WHEN substr(" + monitor + ", 1, 4) = 'val_' THEN " + of("val_primary") +
         " WHEN substr(" + monitor + ", 1, 6) = 'train_' THEN " + of("train_primary") + " END END";
}

// The rows of run_results for the runs of epoch_metrics `e` that `where` keeps, computed from their epochs; the best
// epoch as reports.cpp's epoch_facts() picks it: the monitored value highest with train.monitor_mode max (or auto
// and an accuracy), else lowest; the earliest such epoch.
std::string run_results_select(const std::string& where) {
  const auto last = [](const std::string& column) {
    return "(SELECT f." + column + " FROM epoch_metrics f WHERE f.run_id = e.run_id AND f." + column +
           " IS NOT NULL ORDER BY f.epoch DESC LIMIT 1) AS final_" + column;
  };
  const auto best = [](const char* direction) {
    return by_monitor([direction](const std::string& column) {
      return "(SELECT f.epoch FROM epoch_metrics f WHERE f.run_id = e.run_id AND f." + column +
             " IS NOT NULL ORDER BY f." + column + " " + direction + ", f.epoch LIMIT 1)";
    });
  };
  const std::string mode = param_or("train.monitor_mode", kDefaultMonitorMode);
  // "An accuracy": the name holds the word, case and all (replace() reads the same on both backends; LIKE does not).
  const std::string monitor = monitor_sql();
  const std::string higher_is_better =
      mode + " = 'max' OR (" + mode + " = 'auto' AND replace(" + monitor + ", 'accuracy', '') <> " + monitor + ")";
  const std::string by_epochs =
      "SELECT e.run_id, MAX(e.epoch) AS epochs, MAX(e.val_accuracy) AS best_val_accuracy, MIN(e.val_loss) AS "
      "best_val_loss, " +
      last("val_accuracy") +
      ",\n    CASE MAX(r.primary_direction) WHEN 'min' THEN MIN(e.val_primary) ELSE MAX(e.val_primary) END AS "
      "best_val_primary, " +
      last("val_primary") + ",\n    CASE WHEN " + higher_is_better + "\n      THEN " + best("DESC") + "\n      ELSE " +
      best("ASC") + " END AS best_epoch,\n    " + by_monitor([](const std::string& column) {
        return "(SELECT MAX(f.epoch) FROM epoch_metrics f WHERE f.run_id = e.run_id AND f." + column + " IS NOT NULL)";
      }) +
      " AS last_measured_epoch\n  FROM epoch_metrics e JOIN runs r ON r.id = e.run_id WHERE " + where +
      " GROUP BY e.run_id";
  const auto gap_at = [](const std::string& epoch) {
    return "(SELECT f.val_loss - f.train_loss FROM epoch_metrics f WHERE f.run_id = b.run_id AND f.epoch = b." + epoch +
           ")";
  };
  return "SELECT b.run_id, b.epochs, b.best_val_accuracy, b.best_val_loss, b.final_val_accuracy, b.best_val_primary, "
         "b.final_val_primary, b.best_epoch, " +
         gap_at("best_epoch") + " AS gap_at_best, " + gap_at("last_measured_epoch") + " AS gap_at_last\n  FROM (" +
         by_epochs + ") AS b";
}

constexpr const char* kValidationRisesColumns =
    "validation_rises (run_id, first_epoch, last_epoch, evaluations, best_val_loss, worst_val_loss, "
    "train_loss_before, lowest_train_loss, recovered)";

constexpr const char* kRunResultsColumns =
    "run_results (run_id, epochs, best_val_accuracy, best_val_loss, final_val_accuracy, best_val_primary, "
    "final_val_primary, best_epoch, gap_at_best, gap_at_last)";

// Version 6 → 7: run_results and validation_rises (a view until now) become tables kept by triggers, filled from
// every run's epochs; run_summary and overfitting, which read them, are recreated after. The tables are created
// without IF NOT EXISTS, so that a store that only claims version 6 is refused, not filled twice.
const std::string& migrate_v6_to_v7() {
  static const std::string sql = [] {
    std::string tables = kKeptTablesSql;
    for (auto at = tables.find("CREATE TABLE IF NOT EXISTS"); at != std::string::npos;
         at = tables.find("CREATE TABLE IF NOT EXISTS")) {
      tables.replace(at, 26, "CREATE TABLE");
    }
    return "\nDROP VIEW IF EXISTS run_summary;\nDROP VIEW IF EXISTS overfitting;\nDROP VIEW IF EXISTS "
           "validation_rises;" +
           tables + fill_run_results_sql();
  }();
  return sql;
}

const char* const kTablesSql = R"sql(
CREATE TABLE IF NOT EXISTS runs (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL,
  stage           TEXT NOT NULL DEFAULT '',
  group_id        TEXT NOT NULL,
  parent_run_id   INTEGER REFERENCES runs(id),
  status          TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'diverged',
                                                  'pruned')),
  started_at      TEXT NOT NULL,
  ended_at        TEXT,
  experiment_file TEXT NOT NULL,
  config_toml     TEXT NOT NULL,
  seed            INTEGER NOT NULL,
  device          TEXT NOT NULL,
  threads         INTEGER NOT NULL,
  ftrun_version   TEXT NOT NULL,
  torch_version   TEXT NOT NULL,
  host            TEXT NOT NULL,
  pid             INTEGER NOT NULL,
  checkpoint_path TEXT,
  error           TEXT,
  -- What the run learnt (its task plugin) and the metric that ranks it: 'accuracy' ('max' is better),
  -- 'perplexity' ('min'), ...; recorded as train_<metric>, val_<metric>, test_<metric>.
  task              TEXT NOT NULL DEFAULT 'classification',
  primary_metric    TEXT NOT NULL DEFAULT 'accuracy',
  primary_direction TEXT NOT NULL DEFAULT 'max'
);
CREATE INDEX IF NOT EXISTS runs_by_name ON runs(name);
CREATE INDEX IF NOT EXISTS runs_by_group ON runs(group_id);

CREATE TABLE IF NOT EXISTS run_params (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value,
  -- 1 where the experiment did not write the key: ftrun or the plugin filled in its default.
  is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
  PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS run_plugins (
  run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind           TEXT NOT NULL,
  component      TEXT NOT NULL,
  library        TEXT NOT NULL,
  plugin_name    TEXT NOT NULL,
  plugin_version TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  scope  TEXT NOT NULL CHECK (scope IN ('step', 'epoch', 'final')),
  epoch  INTEGER NOT NULL,
  step   INTEGER NOT NULL,
  name   TEXT NOT NULL,
  value  REAL  -- NULL when the value was NaN (SQLite has no NaN); infinities are stored as such
);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id, scope, name, step);
-- A sweep (one per experiment file and overrides: its fingerprint) and its trials, each taken by one worker at a
-- time (state 'running', with its host, pid and heartbeat) and linked to the run it made.
CREATE TABLE IF NOT EXISTS sweeps (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL,
  experiment_file TEXT NOT NULL,
  fingerprint     TEXT NOT NULL UNIQUE,
  definition      TEXT NOT NULL,
  overrides       TEXT NOT NULL,
  method          TEXT NOT NULL CHECK (method <> ''),  -- the sampler: grid, random, tpe, a plugin's name
  metric          TEXT NOT NULL,
  direction       TEXT NOT NULL CHECK (direction IN ('min', 'max')),
  max_retries     INTEGER NOT NULL,
  created_at      TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS trials (
  sweep_id     INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
  number       INTEGER NOT NULL,
  params       TEXT NOT NULL,
  seed         INTEGER NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'completed', 'pruned', 'failed')),
  run_id       INTEGER REFERENCES runs(id),
  attempts     INTEGER NOT NULL DEFAULT 0,
  host         TEXT,
  pid          INTEGER,
  heartbeat_at TEXT,
  error        TEXT,
  -- Which sampler proposed it: grid, random, tpe (random while TPE waits for its startup trials), a plugin's name.
  sampler      TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (sweep_id, number)
) WITHOUT ROWID;

-- The per-epoch metrics side by side, one row per run and epoch: kept by the triggers below from the rows of
-- `metrics` (the record itself), so that queries over every run read a small table instead of regrouping every
-- per-step row (docs/performance.md, the store at scale).
CREATE TABLE IF NOT EXISTS epoch_metrics (
  run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch             INTEGER NOT NULL,
  train_loss        REAL,
  train_accuracy    REAL,
  val_loss          REAL,
  val_accuracy      REAL,
  lr                REAL,
  images_per_second REAL,
  seconds           REAL,
  train_primary     REAL,  -- the run's primary metric (runs.primary_metric) on the training and validation split
  val_primary       REAL,
  PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;

)sql";

// An SQLite trigger on epoch_metrics that runs `body` after each `event` (INSERT, UPDATE, DELETE) of a row, when
// `when` holds (always when empty).
std::string on_epoch_metrics(const std::string& name, const std::string& event, const std::string& when,
                             const std::string& body) {
  return "CREATE TRIGGER IF NOT EXISTS " + name + " AFTER " + event + " ON epoch_metrics" +
         (when.empty() ? std::string() : "\n  WHEN " + when) + "\nBEGIN\n" + body + "\nEND;\n";
}

// SQLite's triggers keeping epoch_metrics from metrics, and run_results and validation_rises from epoch_metrics
// (postgres_schema.cpp has PostgreSQL's, around the same statements).
std::string epoch_metrics_triggers_sql() {
  return R"sql(
CREATE TRIGGER IF NOT EXISTS epoch_metrics_on_insert AFTER INSERT ON metrics
  WHEN NEW.scope = 'epoch' AND (NEW.name IN ('train_loss', 'train_accuracy', 'val_loss', 'val_accuracy', 'lr',
                                             'images_per_second', 'seconds')
                                OR NEW.name IN (SELECT 'train_' || primary_metric FROM runs WHERE id = NEW.run_id
                                                UNION ALL SELECT 'val_' || primary_metric FROM runs
                                                WHERE id = NEW.run_id))
BEGIN
  INSERT OR IGNORE INTO epoch_metrics (run_id, epoch) VALUES (NEW.run_id, NEW.epoch);
)sql" +
         epoch_metrics_update_sql("(SELECT 'train_' || primary_metric FROM runs WHERE id = NEW.run_id)",
                                  "(SELECT 'val_' || primary_metric FROM runs WHERE id = NEW.run_id)") +
         R"sql(
END;

-- A resumed run drops the epochs after its checkpoint: their row here goes with them.
CREATE TRIGGER IF NOT EXISTS epoch_metrics_on_delete AFTER DELETE ON metrics WHEN OLD.scope = 'epoch'
BEGIN
  DELETE FROM epoch_metrics WHERE run_id = OLD.run_id AND epoch = OLD.epoch;
END;

-- run_results follows epoch_metrics: a new epoch, a changed result (the run's monitor may be any of them), an epoch
-- dropped by a resume; validation_rises follows the losses (a new epoch has none yet) and dropped epochs.
)sql" + on_epoch_metrics("run_results_on_insert", "INSERT", "", run_results_refresh_sql("NEW.run_id")) +
         on_epoch_metrics("run_results_on_update", "UPDATE",
                          "NEW.val_loss IS NOT OLD.val_loss OR NEW.val_accuracy IS NOT OLD.val_accuracy OR "
                          "NEW.val_primary IS NOT OLD.val_primary OR NEW.train_loss IS NOT OLD.train_loss OR "
                          "NEW.train_accuracy IS NOT OLD.train_accuracy OR NEW.train_primary IS NOT OLD.train_primary",
                          run_results_refresh_sql("NEW.run_id")) +
         on_epoch_metrics("run_results_on_delete", "DELETE", "", run_results_refresh_sql("OLD.run_id")) +
         on_epoch_metrics("validation_rises_on_update", "UPDATE",
                          "NEW.val_loss IS NOT OLD.val_loss OR NEW.train_loss IS NOT OLD.train_loss",
                          validation_rises_refresh_sql("NEW.run_id")) +
         on_epoch_metrics("validation_rises_on_delete", "DELETE", "", validation_rises_refresh_sql("OLD.run_id"));
}

// Each run with its best and last results (docs/store.md).
const char* const kRunSummarySql = R"sql(
CREATE VIEW IF NOT EXISTS run_summary AS
  SELECT r.id, r.name, r.stage, r.group_id, r.parent_run_id, r.status, r.started_at, r.ended_at, r.device, r.seed,
         x.best_val_accuracy, x.best_val_loss, x.epochs, x.final_val_accuracy,
         (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.scope = 'final' AND m.name = 'test_accuracy')
           AS test_accuracy,
         (SELECT value FROM run_params p WHERE p.run_id = r.id AND p.key = 'optimizer.lr') AS lr,
         r.task, r.primary_metric, r.primary_direction, x.best_val_primary, x.final_val_primary,
         (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.scope = 'final' AND m.name = 'test_' || r.primary_metric)
           AS test_primary
  FROM runs r LEFT JOIN run_results x ON x.run_id = r.id;

)sql";

// The query behind the `evaluations` view, over the rows of `epochs` (epoch_metrics, or one run's rows of it).
std::string evaluations_select(const std::string& epochs) {
  return R"sql(
  SELECT run_id, epoch, train_loss, val_loss,
         MIN(val_loss) OVER (PARTITION BY run_id ORDER BY epoch ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
           AS best_val_loss_before,
         LAG(train_loss) OVER (PARTITION BY run_id ORDER BY epoch) AS train_loss_before,
         MAX(epoch) OVER (PARTITION BY run_id) AS last_evaluated_epoch
  FROM )sql" +
         epochs + " WHERE val_loss IS NOT NULL";
}

// The query behind the `validation_rises` view, over the rows of `evaluations`; `first` are common table
// expressions to define before its own.
std::string validation_rises_select(const std::string& evaluations, const std::string& first = "") {
  return "\n  WITH " + (first.empty() ? "" : first + ",\n  ") + R"sql(marked AS (
    SELECT *, CASE WHEN val_loss > best_val_loss_before THEN 1 ELSE 0 END AS above FROM )sql" +
         evaluations + R"sql(),
  numbered AS (
    SELECT *, SUM(1 - above) OVER (PARTITION BY run_id ORDER BY epoch) AS stretch FROM marked),
  rising AS (
    SELECT *, FIRST_VALUE(train_loss_before) OVER (PARTITION BY run_id, stretch ORDER BY epoch) AS train_loss_at_start
    FROM numbered WHERE above = 1)
  -- best_val_loss_before is the same for every evaluation of a stretch: none of them is a new minimum.
  SELECT run_id, MIN(epoch) AS first_epoch, MAX(epoch) AS last_epoch, COUNT(*) AS evaluations,
         MAX(best_val_loss_before) AS best_val_loss, MAX(val_loss) AS worst_val_loss,
         MAX(train_loss_at_start) AS train_loss_before, MIN(train_loss) AS lowest_train_loss,
         CASE WHEN MAX(epoch) < MAX(last_evaluated_epoch) THEN 1 ELSE 0 END AS recovered
  FROM rising GROUP BY run_id, stretch)sql";
}

const char* const kOverfittingSql = R"sql(
-- Runs that end overfitting: validation loss rose above its minimum and never came back, while training loss went
-- on falling below where it was. onset_epoch is the first evaluation of that rise; ftrun overfit asks, in
-- addition, that it lasted at least --patience evaluations.
CREATE VIEW IF NOT EXISTS overfitting AS
  SELECT run_id, first_epoch AS onset_epoch, evaluations, best_val_loss, worst_val_loss, train_loss_before,
         lowest_train_loss
  FROM validation_rises WHERE recovered = 0 AND lowest_train_loss < train_loss_before;
)sql";

}  // namespace

std::string epoch_metrics_update_sql(const std::string& train_primary_name, const std::string& val_primary_name) {
  return R"sql(  UPDATE epoch_metrics SET
    train_loss        = CASE WHEN NEW.name = 'train_loss' THEN NEW.value ELSE train_loss END,
    train_accuracy    = CASE WHEN NEW.name = 'train_accuracy' THEN NEW.value ELSE train_accuracy END,
    val_loss          = CASE WHEN NEW.name = 'val_loss' THEN NEW.value ELSE val_loss END,
    val_accuracy      = CASE WHEN NEW.name = 'val_accuracy' THEN NEW.value ELSE val_accuracy END,
    lr                = CASE WHEN NEW.name = 'lr' THEN NEW.value ELSE lr END,
    images_per_second = CASE WHEN NEW.name = 'images_per_second' THEN NEW.value ELSE images_per_second END,
    seconds           = CASE WHEN NEW.name = 'seconds' THEN NEW.value ELSE seconds END,
    train_primary     = CASE WHEN NEW.name = )sql" +
         train_primary_name + R"sql( THEN NEW.value ELSE train_primary END,
    val_primary       = CASE WHEN NEW.name = )sql" +
         val_primary_name + R"sql( THEN NEW.value ELSE val_primary END
  WHERE run_id = NEW.run_id AND epoch = NEW.epoch;)sql";
}

std::string run_results_refresh_sql(const std::string& run_id) {
  return "  DELETE FROM run_results WHERE run_id = " + run_id + ";\n  INSERT INTO " + kRunResultsColumns + "\n  " +
         run_results_select("e.run_id = " + run_id) + ";";
}

std::string validation_rises_refresh_sql(const std::string& run_id) {
  return "  DELETE FROM validation_rises WHERE run_id = " + run_id + ";\n  INSERT INTO " + kValidationRisesColumns +
         "\n  SELECT * FROM (" + validation_rises_of_runs_sql("(" + run_id + ")") + ") AS rises;";
}

std::string run_results_query() { return run_results_select("1 = 1"); }

std::string validation_rises_query() {
  return validation_rises_select("all_evaluations", "all_evaluations AS (" + evaluations_select("epoch_metrics") + ")");
}

std::string fill_run_results_sql() {
  return std::string("INSERT INTO ") + kRunResultsColumns + "\n  " + run_results_query() + ";\nINSERT INTO " +
         kValidationRisesColumns + "\n  SELECT * FROM (" + validation_rises_query() + ") AS rises;\n";
}

const std::string& store_tables_sql() {
  static const std::string sql = std::string(kTablesSql) + kKeptTablesSql;
  return sql;
}

const char* run_summary_view_sql() { return kRunSummarySql; }

const std::string& store_views_sql() {
  static const std::string sql =
      "\n-- One row per validation (with eval_every > 1, only the epochs that were evaluated): the lowest validation "
      "loss\n-- of all evaluations before it, the training loss of the evaluation before it, and the run's last "
      "evaluation.\nCREATE VIEW IF NOT EXISTS evaluations AS" +
      evaluations_select("epoch_metrics") + ";\n" + kOverfittingSql;
  return sql;
}

const std::string& store_schema_sql() {
  static const std::string sql = store_tables_sql() + epoch_metrics_triggers_sql() + kRunSummarySql + store_views_sql();
  return sql;
}

std::string validation_rises_of_runs_sql(const std::string& run_ids) {
  // SQLite does not push `WHERE run_id IN (...)` through window functions, so the view's own query is given the
  // runs' rows at its source rather than filtered at the end.
  return validation_rises_select("run_evaluations", "run_epochs AS (SELECT * FROM epoch_metrics WHERE run_id IN " +
                                                        run_ids + "),\n  run_evaluations AS (" +
                                                        evaluations_select("run_epochs") + ")");
}

const std::vector<StoreMigration>& store_migrations() {
  static const std::vector<StoreMigration> migrations = {
      {1, "status 'diverged', NULL metric values for NaN", kMigrateV1ToV2},
      {2, "epoch_metrics becomes a table kept by triggers", kMigrateV2ToV3},
      {3, "sweeps and their trials, run status pruned", kMigrateV3ToV4},
      {4, "each run's task and primary metric", kMigrateV4ToV5},
      {5, "parameters marked as written or defaults, trials' samplers", kMigrateV5ToV6},
      {6, "each run's best and last results kept in run_results", migrate_v6_to_v7()},
  };
  return migrations;
}

}  // namespace ft
