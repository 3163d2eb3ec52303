#pragma once
// SqlConnection over SQLite (SQLiteCpp): the store's first backend behind the interface it is moving onto.

#include "store/sql_connection.h"

#include <memory>

namespace SQLite {
class Database;
}

namespace ft {

class SqliteConnection final : public SqlConnection {
 public:
  /// Speaks through `database`, opened (and configured: WAL, busy timeout) by its owner, which keeps it alive.
  /// Defines ftrun_number(value) and ftrun_now() on it, as the PostgreSQL schema does (postgres_schema.cpp says
  /// why).
  explicit SqliteConnection(SQLite::Database& database);

  const char* dialect() const override { return "sqlite"; }
  std::unique_ptr<SqlStatement> prepare(const std::string& sql) override;
  void execute(const std::string& sql) override;
  /// BEGIN IMMEDIATE: SQLite's write lock taken before anything is read, so that concurrent writers queue (a
  /// deferred transaction that turns into a write fails at once instead, whatever the busy timeout).
  void write_transaction(const std::function<void()>& body, bool row_locks = false) override;

 private:
  SQLite::Database& database_;
};

}  // namespace ft
