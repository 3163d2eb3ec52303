#pragma once
// The store's schema in PostgreSQL's dialect (issue 23): the same tables, columns, views and version as SQLite's
// (schema.h), translated from its text rather than written twice, plus what SQLite has built in and the store's
// queries use (julianday, group_concat) and the triggers that keep epoch_metrics, in PL/pgSQL.

#include <string>

namespace ft {

/// Creates or completes the schema at kStoreSchemaVersion; every statement is idempotent. A PostgreSQL store
/// starts at the current version (there are no older ones to migrate), and keeps it in table schema_version.
const std::string& postgres_schema_sql();

/// SQLite's table definitions in PostgreSQL's types: INTEGER is BIGINT (SQLite's integers are 64-bit), REAL is
/// DOUBLE PRECISION (PostgreSQL's REAL is 32-bit), ids are identity columns, a column without a type (run_params'
/// value) is TEXT, and metrics gains the rowid SQLite gives every table, so that `ORDER BY rowid` (the order rows
/// were recorded in) reads the same in both.
std::string postgres_tables_sql(const std::string& sqlite_tables);

}  // namespace ft
