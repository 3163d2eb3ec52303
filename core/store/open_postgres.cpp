// Opening a PostgreSQL store (issue 23): the connection, then the schema created in one transaction when the
// database has none, checked when it has one. PostgreSQL's DDL is transactional, so a schema is there whole or not
// at all, and an advisory lock makes processes that open a new database together create it once.
#include "store/results_store.h"

#include "store/postgres_connection.h"
#include "store/postgres_schema.h"
#include "store/schema.h"
#include "store/sql_connection.h"
#include "store/store_internals.h"

#include "log/log.h"

#include <ftsdk/error.h>

namespace ft {

using namespace store_internals;

namespace {

// Held while one process checks or creates the schema, so that processes opening a new database together create
// it once. A session lock taken before the transaction begins: a SERIALIZABLE transaction's snapshot is taken at
// its first statement, so a lock taken inside it would let the second process see the database as it was before
// the first one's schema. The key is any number fixed for ftrun; the server drops the lock if the connection goes.
constexpr const char* kLockSchema = "SELECT pg_advisory_lock(7468414350)";
constexpr const char* kUnlockSchema = "SELECT pg_advisory_unlock(7468414350)";

constexpr int kFirstPostgresVersion = 6;

// The schema version of the database, or 0 when it has no schema_version table.
int postgres_schema_version(SqlConnection& sql) {
  SqlQuery table(sql, "SELECT to_regclass('schema_version') IS NOT NULL");
  table.executeStep();
  const bool present = table.getColumn(0).getString() == "t";
  table.reset();
  if (!present) return 0;
  SqlQuery version(sql, "SELECT MAX(version) FROM schema_version");
  return version.executeStep() && !version.getColumn(0).isNull() ? version.getColumn(0).getInt() : 0;
}

// Up to six tables of the current schema, which a database without ftrun's version should not have.
std::string other_tables(SqlConnection& sql) {
  SqlQuery query(sql, R"(SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
      AND table_type = 'BASE TABLE' ORDER BY table_name LIMIT 6)");
  std::string tables;
  while (query.executeStep()) tables += (tables.empty() ? "" : ", ") + query.getColumn(0).getString();
  return tables;
}

}  // namespace

void ResultsStore::open_postgres() {
  sql_ = std::make_unique<PostgresConnection>(path_);
  guarded(path_, "lock its schema", [&] { sql_->execute(kLockSchema); });
  struct Unlock {
    SqlConnection& sql;
    ~Unlock() {
      try {
        sql.execute(kUnlockSchema);
      } catch (const SqlError&) {  // the connection is gone, and the lock with it
      }
    }
  } unlock{*sql_};
  int upgraded_from = 0;
  write("create, check or upgrade its schema", options_.write_attempts, [&] {
    const int version = postgres_schema_version(*sql_);
    refuse_newer_schema(path_, version);
    if (version == kStoreSchemaVersion) return;
    if (version != 0) {
      // PostgreSQL stores began at version 6; an older number was not written by ftrun.
      if (version < kFirstPostgresVersion) {
        throw StoreError("results store " + path_ + " has schema version " + std::to_string(version) +
                         ", which no ftrun wrote to PostgreSQL; nothing was changed");
      }
      // Every step in this one transaction: a failed upgrade leaves the store as it was.
      for (int from = version; from < kStoreSchemaVersion; ++from) sql_->execute(postgres_migration_sql(from));
      SqlQuery record(*sql_, "UPDATE schema_version SET version = ?");
      record.bind(1, kStoreSchemaVersion);
      record.exec();
      upgraded_from = version;
      return;
    }
    if (const std::string tables = other_tables(*sql_); !tables.empty()) {
      throw StoreError("results store " + path_ + " holds tables (" + tables +
                       ") but no ftrun schema version: it is another program's database. Nothing was changed; "
                       "create a database for ftrun (createdb) and name it in the URL");
    }
    sql_->execute(postgres_schema_sql());
    SqlQuery record(*sql_, "INSERT INTO schema_version (version) VALUES (?)");
    record.bind(1, kStoreSchemaVersion);
    record.exec();
  });
  if (upgraded_from != 0) {
    log::info("results store " + path_ + ": schema version " + std::to_string(upgraded_from) + " upgraded to " +
              std::to_string(kStoreSchemaVersion));
  }
}

}  // namespace ft
