#include "store/schema.h"

namespace ft {

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

const char* const kStoreSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS runs (
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
CREATE INDEX IF NOT EXISTS runs_by_name ON runs(name);
CREATE INDEX IF NOT EXISTS runs_by_group ON runs(group_id);

CREATE TABLE IF NOT EXISTS run_params (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  value,
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

CREATE VIEW IF NOT EXISTS epoch_metrics AS
  SELECT run_id, epoch,
         MAX(CASE WHEN name = 'train_loss' THEN value END)     AS train_loss,
         MAX(CASE WHEN name = 'train_accuracy' THEN value END) AS train_accuracy,
         MAX(CASE WHEN name = 'val_loss' THEN value END)       AS val_loss,
         MAX(CASE WHEN name = 'val_accuracy' THEN value END)   AS val_accuracy,
         MAX(CASE WHEN name = 'lr' THEN value END)             AS lr,
         MAX(CASE WHEN name = 'images_per_second' THEN value END) AS images_per_second,
         MAX(CASE WHEN name = 'seconds' THEN value END)        AS seconds
  FROM metrics WHERE scope = 'epoch' GROUP BY run_id, epoch;

CREATE VIEW IF NOT EXISTS run_summary AS
  SELECT r.id, r.name, r.stage, r.group_id, r.parent_run_id, r.status, r.started_at, r.ended_at, r.device, r.seed,
         (SELECT MAX(val_accuracy) FROM epoch_metrics e WHERE e.run_id = r.id) AS best_val_accuracy,
         (SELECT MIN(val_loss) FROM epoch_metrics e WHERE e.run_id = r.id) AS best_val_loss,
         (SELECT MAX(epoch) FROM epoch_metrics e WHERE e.run_id = r.id) AS epochs,
         (SELECT val_accuracy FROM epoch_metrics e WHERE e.run_id = r.id AND e.val_accuracy IS NOT NULL
            ORDER BY e.epoch DESC LIMIT 1) AS final_val_accuracy,
         (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.scope = 'final' AND m.name = 'test_accuracy')
           AS test_accuracy,
         (SELECT value FROM run_params p WHERE p.run_id = r.id AND p.key = 'optimizer.lr') AS lr
  FROM runs r;

-- One row per validation (with eval_every > 1, only the epochs that were evaluated): the lowest validation loss
-- of all evaluations before it, and the training loss of the evaluation before it.
CREATE VIEW IF NOT EXISTS evaluations AS
  SELECT run_id, epoch, train_loss, val_loss,
         MIN(val_loss) OVER (PARTITION BY run_id ORDER BY epoch ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
           AS best_val_loss_before,
         LAG(train_loss) OVER (PARTITION BY run_id ORDER BY epoch) AS train_loss_before
  FROM epoch_metrics WHERE val_loss IS NOT NULL;

-- Every stretch of consecutive evaluations whose validation loss stayed above its running minimum (the lowest
-- value before the stretch began): where it began and ended, how many evaluations it lasted, the minimum it rose
-- above and how high it went, the training loss before it and the lowest training loss during it, and whether
-- validation loss came back down to a new minimum afterwards (recovered = 1) or training ended inside it.
CREATE VIEW IF NOT EXISTS validation_rises AS
  WITH marked AS (
    SELECT *, CASE WHEN val_loss > best_val_loss_before THEN 1 ELSE 0 END AS above FROM evaluations),
  numbered AS (
    SELECT *, SUM(1 - above) OVER (PARTITION BY run_id ORDER BY epoch) AS stretch FROM marked),
  spans AS (
    SELECT run_id, stretch, MIN(epoch) AS first_epoch, MAX(epoch) AS last_epoch, COUNT(*) AS evaluations,
           MAX(val_loss) AS worst_val_loss, MIN(train_loss) AS lowest_train_loss
    FROM numbered WHERE above = 1 GROUP BY run_id, stretch)
  SELECT spans.run_id, spans.first_epoch, spans.last_epoch, spans.evaluations,
         start.best_val_loss_before AS best_val_loss, spans.worst_val_loss,
         start.train_loss_before, spans.lowest_train_loss,
         EXISTS (SELECT 1 FROM evaluations later WHERE later.run_id = spans.run_id AND later.epoch > spans.last_epoch)
           AS recovered
  FROM spans JOIN evaluations start ON start.run_id = spans.run_id AND start.epoch = spans.first_epoch;

-- Runs that end overfitting: validation loss rose above its minimum and never came back, while training loss went
-- on falling below where it was. onset_epoch is the first evaluation of that rise; ftrun overfit asks, in
-- addition, that it lasted at least --patience evaluations.
CREATE VIEW IF NOT EXISTS overfitting AS
  SELECT run_id, first_epoch AS onset_epoch, evaluations, best_val_loss, worst_val_loss, train_loss_before,
         lowest_train_loss
  FROM validation_rises WHERE recovered = 0 AND lowest_train_loss < train_loss_before;
)sql";

const std::vector<StoreMigration>& store_migrations() {
  static const std::vector<StoreMigration> migrations = {
      {1, "status 'diverged', NULL metric values for NaN", kMigrateV1ToV2},
  };
  return migrations;
}

}  // namespace ft
