#pragma once
// The store's schema, versioned with PRAGMA user_version. docs/store.md documents every table and view.

#include <string>
#include <vector>

namespace ft {

/// Bump together with a new entry in store_migrations() whenever the schema changes, and commit a store written
/// by the old version as tests/fixtures/store_vN.sql (`sqlite3 .dump`, then `PRAGMA user_version = N;`; the
/// upgrade test builds and opens every one of them).
inline constexpr int kStoreSchemaVersion = 6;

/// The current schema; every statement is idempotent (IF NOT EXISTS), so it also completes an upgraded store with
/// the views and indexes its migrations dropped or did not know.
const std::string& store_schema_sql();

/// Its parts, which the PostgreSQL schema (postgres_schema.h) translates rather than repeats: the tables and
/// indexes, the run_summary view, and the views over epoch_metrics (evaluations, validation_rises, overfitting).
const char* store_tables_sql();
const char* run_summary_view_sql();
const std::string& store_views_sql();
/// The statement both backends' triggers run for each new epoch metric row NEW, given the SQL of the names the
/// run's primary metric is recorded under (`train_<metric>`, `val_<metric>`).
std::string epoch_metrics_update_sql(const std::string& train_primary_name, const std::string& val_primary_name);

/// The query of the validation_rises view for the runs whose ids are the list `run_ids` ("(?, ?)"): what
/// `ftrun overfit` and `ftrun show` use (the view filtered by run would compute every run first).
std::string validation_rises_of_runs_sql(const std::string& run_ids);

/// One numbered step of the schema's history: the SQL that turns a store of version `from` into `from + 1`.
/// Each runs in its own write transaction, with foreign keys off, after a backup copy of the store.
struct StoreMigration {
  int from;
  const char* what;  // for the log line
  const char* sql;
};

/// Every migration, oldest first: entry i turns version i + 1 into i + 2.
const std::vector<StoreMigration>& store_migrations();

}  // namespace ft
