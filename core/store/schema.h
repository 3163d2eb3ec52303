#pragma once
// The store's schema, versioned with PRAGMA user_version. docs/store.md documents every table and view.

namespace ft {

/// Bump with a migration in results_store.cpp whenever the schema changes.
inline constexpr int kStoreSchemaVersion = 1;

extern const char* const kStoreSchemaSql;

}  // namespace ft
