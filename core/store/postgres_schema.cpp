#include "store/postgres_schema.h"

#include "store/schema.h"

#include <regex>
#include <stdexcept>

namespace ft {
namespace {

// What SQLite has built in and the store's SQL uses, so that one query text serves both backends: julianday (its
// 'now' is the server's clock, the one clock every host of a cluster shares), group_concat(text, separator), and
// ftrun's own two, which sqlite_connection.cpp defines on SQLite: ftrun_number, a parameter's text as a number or
// NULL (run_params.value is TEXT here; SQLite keeps each value's own type), and ftrun_now, the time as ftrun
// writes it, here by the server's clock, so that trials' heartbeats written from many hosts and judged on the
// server never meet two clocks.
const char* const kCompatibilitySql = R"sql(
CREATE OR REPLACE FUNCTION julianday(moment TEXT) RETURNS DOUBLE PRECISION LANGUAGE sql STABLE AS $$
  SELECT EXTRACT(EPOCH FROM CASE WHEN moment = 'now' THEN clock_timestamp() AT TIME ZONE 'UTC'
                                 ELSE moment::timestamp END)::double precision / 86400.0 + 2440587.5
$$;
CREATE OR REPLACE FUNCTION ftrun_now() RETURNS TEXT LANGUAGE sql VOLATILE AS $$
  SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;
CREATE OR REPLACE FUNCTION ftrun_group_concat_step(so_far TEXT, value TEXT, separator TEXT) RETURNS TEXT
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN value IS NULL THEN so_far WHEN so_far IS NULL THEN value ELSE so_far || separator || value END
$$;
CREATE OR REPLACE AGGREGATE group_concat(TEXT, TEXT) (SFUNC = ftrun_group_concat_step, STYPE = TEXT);
CREATE OR REPLACE FUNCTION ftrun_number(value TEXT) RETURNS DOUBLE PRECISION LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN value ~* '^\s*([-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?|[-+]?inf(inity)?|nan)\s*$'
              THEN value::double precision END
$$;
)sql";

// SQLite's two triggers on metrics (schema.cpp), as PL/pgSQL functions: the same columns from the same rows.
std::string epoch_metrics_triggers_sql() {
  return R"sql(
CREATE OR REPLACE FUNCTION ftrun_epoch_metrics_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  primary_name TEXT;
BEGIN
  IF NEW.scope <> 'epoch' THEN
    RETURN NULL;
  END IF;
  SELECT primary_metric INTO primary_name FROM runs WHERE id = NEW.run_id;
  IF NOT (NEW.name IN ('train_loss', 'train_accuracy', 'val_loss', 'val_accuracy', 'lr', 'images_per_second',
                       'seconds')
          OR NEW.name = 'train_' || primary_name OR NEW.name = 'val_' || primary_name) THEN
    RETURN NULL;
  END IF;
  INSERT INTO epoch_metrics (run_id, epoch) VALUES (NEW.run_id, NEW.epoch) ON CONFLICT DO NOTHING;
)sql" + epoch_metrics_update_sql("'train_' || primary_name", "'val_' || primary_name") +
         R"sql(
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER epoch_metrics_on_insert AFTER INSERT ON metrics
  FOR EACH ROW EXECUTE FUNCTION ftrun_epoch_metrics_on_insert();

CREATE OR REPLACE FUNCTION ftrun_epoch_metrics_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.scope = 'epoch' THEN
    DELETE FROM epoch_metrics WHERE run_id = OLD.run_id AND epoch = OLD.epoch;
  END IF;
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER epoch_metrics_on_delete AFTER DELETE ON metrics
  FOR EACH ROW EXECUTE FUNCTION ftrun_epoch_metrics_on_delete();

-- SQLite's five triggers keeping run_results and validation_rises, as one function: a run's results follow a new
-- epoch, a changed result and a dropped epoch; its rises follow its losses and a dropped epoch.
CREATE OR REPLACE FUNCTION ftrun_per_run_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed_run BIGINT;
  results_changed BOOLEAN := TRUE;
  rises_changed BOOLEAN := TRUE;
BEGIN
  IF TG_OP = 'DELETE' THEN
    changed_run := OLD.run_id;
  ELSE
    changed_run := NEW.run_id;
  END IF;
  IF TG_OP = 'INSERT' THEN
    rises_changed := FALSE;  -- a new epoch has no losses yet
  ELSIF TG_OP = 'UPDATE' THEN
    results_changed := NEW.val_loss IS DISTINCT FROM OLD.val_loss OR NEW.val_accuracy IS DISTINCT FROM OLD.val_accuracy
                       OR NEW.val_primary IS DISTINCT FROM OLD.val_primary OR NEW.train_loss IS DISTINCT FROM
                       OLD.train_loss OR NEW.train_accuracy IS DISTINCT FROM OLD.train_accuracy
                       OR NEW.train_primary IS DISTINCT FROM OLD.train_primary;
    rises_changed := NEW.val_loss IS DISTINCT FROM OLD.val_loss OR NEW.train_loss IS DISTINCT FROM OLD.train_loss;
  END IF;
  IF results_changed THEN
)sql" + run_results_refresh_sql("changed_run") +
         R"sql(
  END IF;
  IF rises_changed THEN
)sql" + validation_rises_refresh_sql("changed_run") +
         R"sql(
  END IF;
  RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER per_run_refresh AFTER INSERT OR UPDATE OR DELETE ON epoch_metrics
  FOR EACH ROW EXECUTE FUNCTION ftrun_per_run_refresh();
)sql";
}

// Replaces every match of `pattern` in `text`, and insists there was one: a change to SQLite's schema text that
// this translation no longer recognises fails the first test that opens a PostgreSQL store, not silently.
std::string replaced(const std::string& text, const std::string& pattern, const std::string& by) {
  const std::regex expression(pattern);
  if (!std::regex_search(text, expression)) {
    throw std::logic_error("postgres_schema: SQLite's schema no longer has " + pattern);
  }
  return std::regex_replace(text, expression, by);
}

}  // namespace

std::string postgres_tables_sql(const std::string& sqlite_tables) {
  std::string sql =
      replaced(sqlite_tables, R"(\bINTEGER PRIMARY KEY\b)", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
  sql = replaced(sql, R"(\bINTEGER\b)", "BIGINT");
  sql = replaced(sql, R"(\bREAL\b)", "DOUBLE PRECISION");
  sql = replaced(sql, R"(\) WITHOUT ROWID;)", ");");
  sql = replaced(sql, R"(\n  value,\n)", "\n  value  TEXT,\n");
  // The value rides in the index, so `compare lr/<group>` reads a run's rates from the index alone: on a server
  // with PostgreSQL's default 128 MB of shared buffers, fetching each row from the table made it take 5 s over
  // 10,000 runs (bench/store_postgres.sh). SQLite's rows sit together by rowid, and it needs no such help.
  sql = replaced(sql, R"(ON metrics\(run_id, scope, name, step\);)",
                 "ON metrics(run_id, scope, name, step) INCLUDE (value);");
  return replaced(sql, R"(CREATE TABLE IF NOT EXISTS metrics \(\n)",
                  "CREATE TABLE IF NOT EXISTS metrics (\n  rowid  BIGINT GENERATED ALWAYS AS IDENTITY,\n");
}

const std::string& postgres_migration_sql(int from) {
  // Version 6 → 7: run_results and validation_rises (a view until then) as tables, created and kept by the
  // schema's statements, which follow, and filled from every run's epochs; run_summary and overfitting, which read
  // them, are dropped to be recreated; and the metrics_by_run index of a store created before it carried its
  // values (INCLUDE, above) is rebuilt.
  static const std::string v6_to_v7 = R"sql(
SET LOCAL client_min_messages = warning;  -- not a NOTICE for each table that is already there
DROP VIEW IF EXISTS run_summary;
DROP VIEW IF EXISTS overfitting;
DROP VIEW IF EXISTS validation_rises;
DO $$
BEGIN
  IF (SELECT indexdef NOT LIKE '%INCLUDE%' FROM pg_indexes
      WHERE schemaname = current_schema() AND indexname = 'metrics_by_run') THEN
    DROP INDEX metrics_by_run;
  END IF;
END
$$;
)sql" + postgres_schema_sql() + fill_run_results_sql();
  if (from != 6) throw std::logic_error("postgres_schema: no migration from version " + std::to_string(from));
  return v6_to_v7;
}

const std::string& postgres_schema_sql() {
  static const std::string sql = [] {
    std::string views = replaced(std::string(run_summary_view_sql()) + store_views_sql(),
                                 R"(CREATE VIEW IF NOT EXISTS)", "CREATE OR REPLACE VIEW");
    // The learning rate as a number, as SQLite's typed column gives it.
    views =
        replaced(views, R"(\(SELECT value FROM run_params p WHERE p\.run_id = r\.id AND p\.key = 'optimizer\.lr'\))",
                 "(SELECT ftrun_number(value) FROM run_params p WHERE p.run_id = r.id AND p.key = 'optimizer.lr')");
    return std::string(kCompatibilitySql) + postgres_tables_sql(store_tables_sql()) + epoch_metrics_triggers_sql() +
           views + "\nCREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);\n";
  }();
  return sql;
}

}  // namespace ft
