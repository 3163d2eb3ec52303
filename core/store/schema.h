#pragma once
// The store's schema, versioned with PRAGMA user_version. docs/store.md documents every table and view.

#include <string>
#include <vector>

namespace ft {

/// Bump together with a new entry in store_migrations() whenever the schema changes, and commit a store written
/// by the old version as tests/fixtures/store_vN.sql (`sqlite3 .dump`, then `PRAGMA user_version = N;`; the
/// upgrade test builds and opens every one of them).
inline constexpr int kStoreSchemaVersion = 7;

/// The current schema; every statement is idempotent (IF NOT EXISTS), so it also completes an upgraded store with
/// the views and indexes its migrations dropped or did not know.
const std::string& store_schema_sql();

/// Its parts, which the PostgreSQL schema (postgres_schema.h) translates rather than repeats: the tables and
/// indexes, the run_summary view, and the views over epoch_metrics and validation_rises (evaluations, overfitting).
const std::string& store_tables_sql();
const char* run_summary_view_sql();
const std::string& store_views_sql();
/// The statement both backends' triggers run for each new epoch metric row NEW, given the SQL of the names the
/// run's primary metric is recorded under (`train_<metric>`, `val_<metric>`).
std::string epoch_metrics_update_sql(const std::string& train_primary_name, const std::string& val_primary_name);
/// The statements both backends' triggers on epoch_metrics run to rebuild the run_results row of the run whose id
/// is the SQL `run_id` (NEW.run_id, a variable) from its epochs.
std::string run_results_refresh_sql(const std::string& run_id);
/// The same for the run's rows of validation_rises, from its training and validation losses.
std::string validation_rises_refresh_sql(const std::string& run_id);
/// Every run's run_results row, and every run's validation_rises, worked out from its epochs now (what the
/// triggers keep; the tests compare them); and the statements that fill the two empty tables with them (a store's
/// upgrade).
std::string run_results_query();
std::string validation_rises_query();
std::string fill_run_results_sql();

/// The rows of validation_rises for the runs whose ids are the list `run_ids` ("(?, ?)"), worked out from their
/// epochs: what the triggers write for a run.
std::string validation_rises_of_runs_sql(const std::string& run_ids);

/// One numbered step of the schema's history: the SQL that turns a store of version `from` into `from + 1`.
/// Each runs in its own write transaction, with foreign keys off, after a backup copy of the store.
struct StoreMigration {
  int from;
  const char* what;  // for the log line
  std::string sql;
};

/// Every migration, oldest first: entry i turns version i + 1 into i + 2.
const std::vector<StoreMigration>& store_migrations();

}  // namespace ft
