#pragma once
// The store's schema in PostgreSQL's dialect (issue 23): the same tables, columns, views and version as SQLite's
// (schema.h), translated from its text rather than written twice, plus what SQLite has built in and the store's
// queries use (julianday, group_concat) and the triggers that keep epoch_metrics, in PL/pgSQL.

#include <string>

namespace ft {

/// Creates or completes the schema at kStoreSchemaVersion; every statement is idempotent. A PostgreSQL store
/// keeps its version in table schema_version; the first was 6.
const std::string& postgres_schema_sql();

/// The SQL that turns a PostgreSQL store of version `from` into `from + 1`, run in one transaction (PostgreSQL's
/// DDL is transactional: a store is at one version or the next). SQLite's migrations (schema.h) rebuild tables in
/// ways PostgreSQL does not need; this one names what the dialect does.
const std::string& postgres_migration_sql(int from);

/// SQLite's table definitions in PostgreSQL's types: INTEGER is BIGINT (SQLite's integers are 64-bit), REAL is
/// DOUBLE PRECISION (PostgreSQL's REAL is 32-bit), ids are identity columns, a column without a type (run_params'
/// value) is TEXT, and metrics gains the rowid SQLite gives every table, so that `ORDER BY rowid` (the order rows
/// were recorded in) reads the same in both.
std::string postgres_tables_sql(const std::string& sqlite_tables);

}  // namespace ft
