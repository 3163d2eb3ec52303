#pragma once
// The narrow interface the results store is to speak to its database through (issue 23, docs/store.md,
// "PostgreSQL"): statements with `?` placeholders, rows stepped through, one write transaction at a time. SQLite
// (sqlite_connection.h) and PostgreSQL (postgres_connection.h) stand behind it, so that the store's queries, views
// and migrations are written once, in the SQL both dialects share, rather than twice and drifting apart. Its
// names follow SQLiteCpp's, which the store's code uses today, so that moving the store onto it changes types,
// not logic.

#include <ftsdk/error.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace ft {

/// A statement or transaction that failed. `transient()`: worth another attempt (a lock held by another process,
/// a full disk for a moment, a serialization conflict, a connection lost), as the store's writes retry today.
class SqlError : public StoreError {
 public:
  SqlError(const std::string& message, bool transient) : StoreError(message), transient_(transient) {}
  bool transient() const { return transient_; }

 private:
  bool transient_;
};

/// One prepared statement. Placeholders are `?`, bound from 1; a statement runs at its first `executeStep()`.
class SqlStatement {
 public:
  virtual ~SqlStatement() = default;
  virtual void bind(int index, std::int64_t value) = 0;
  virtual void bind(int index, double value) = 0;
  virtual void bind(int index, const std::string& value) = 0;
  /// Binds NULL.
  virtual void bind(int index) = 0;
  /// Runs the statement (first call) or moves to its next row: true while there is a row to read.
  virtual bool executeStep() = 0;
  /// Runs a statement that returns no rows; returns how many rows it changed.
  virtual std::int64_t exec() = 0;
  virtual bool isNull(int column) const = 0;
  virtual std::int64_t getInt64(int column) const = 0;
  virtual double getDouble(int column) const = 0;
  virtual std::string getString(int column) const = 0;
  /// Ready to run again, with its bindings kept until bound anew. A statement that has a row left to read keeps
  /// SQLite from committing: step it to its end or reset it first.
  virtual void reset() = 0;
};

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  /// "sqlite" or "postgresql": where the two must differ (a schema's id columns, its version's home), the store
  /// asks.
  virtual const char* dialect() const = 0;
  /// A statement on this connection; it must not outlive the connection.
  virtual std::unique_ptr<SqlStatement> prepare(const std::string& sql) = 0;
  /// Runs statements without parameters (several, separated by `;`).
  virtual void execute(const std::string& sql) = 0;
  /// Runs `body` in one write transaction, holding the database's write lock (SQLite) or running with full
  /// isolation (PostgreSQL) from its start: committed when `body` returns, rolled back when it throws.
  virtual void write_transaction(const std::function<void()>& body) = 0;
};

}  // namespace ft
