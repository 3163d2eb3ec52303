#pragma once
// The store's schema, versioned with PRAGMA user_version. docs/store.md documents every table and view.

namespace ft {

/// Bump with a migration in results_store.cpp whenever the schema changes.
inline constexpr int kStoreSchemaVersion = 2;

/// The current schema; every statement is idempotent (IF NOT EXISTS).
extern const char* const kStoreSchemaSql;

/// Turns a version-1 store into version 2 (run with foreign keys off, inside a transaction).
extern const char* const kMigrateV1ToV2Sql;

}  // namespace ft
