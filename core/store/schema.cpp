#include "store/schema.h"

namespace ft {

// Version 1 → 2: runs gains the status 'diverged' and metrics.value may be NULL (a NaN). SQLite cannot alter a
// CHECK or NOT NULL constraint, so both tables are rebuilt (https://sqlite.org/lang_altertable.html, "making
// other kinds of table schema changes"); the views that read them are dropped first and recreated after.
const char* const kMigrateV1ToV2Sql = R"sql(
DROP VIEW IF EXISTS overfitting;
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
  SELECT r.id, r.name, r.stage, r.group_id, r.parent_run_id, r.status, r.started_at, r.ended_at, r.device,
         (SELECT MAX(val_accuracy) FROM epoch_metrics e WHERE e.run_id = r.id) AS best_val_accuracy,
         (SELECT MIN(val_loss) FROM epoch_metrics e WHERE e.run_id = r.id) AS best_val_loss,
         (SELECT MAX(epoch) FROM epoch_metrics e WHERE e.run_id = r.id) AS epochs,
         (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.scope = 'final' AND m.name = 'test_accuracy')
           AS test_accuracy,
         (SELECT value FROM run_params p WHERE p.run_id = r.id AND p.key = 'optimizer.lr') AS lr
  FROM runs r;

-- Epochs where validation loss went up while training loss went down: the classic sign of overfitting.
CREATE VIEW IF NOT EXISTS overfitting AS
  SELECT cur.run_id, cur.epoch, prev.train_loss AS prev_train_loss, cur.train_loss,
         prev.val_loss AS prev_val_loss, cur.val_loss
  FROM epoch_metrics cur JOIN epoch_metrics prev ON prev.run_id = cur.run_id AND prev.epoch = cur.epoch - 1
  WHERE cur.val_loss > prev.val_loss AND cur.train_loss < prev.train_loss;
)sql";

}  // namespace ft
