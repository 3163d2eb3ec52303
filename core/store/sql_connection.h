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
#include <type_traits>
#include <utility>

namespace ft {

/// A statement or transaction that failed, and how: `permanent` (a mistake, a damaged file: trying again gives
/// the same), `transient` (a lock held by another process, a full disk for a moment: worth another attempt, as the
/// store's writes retry), `conflict` (concurrent PostgreSQL transactions that collided, reported at once where
/// SQLite would have waited for its lock), `connection_lost` (the server went away: restarted, or cut off by the
/// network). `hint()`: what the user can do about it, for the store's message (" (is the disk full?)"), or empty.
class SqlError : public StoreError {
 public:
  enum class Kind { permanent, transient, conflict, connection_lost };
  SqlError(const std::string& message, Kind kind, std::string hint = {})
      : StoreError(message), kind_(kind), hint_(std::move(hint)) {}
  bool transient() const { return kind_ != Kind::permanent; }
  bool conflict() const { return kind_ == Kind::conflict; }
  bool connection_lost() const { return kind_ == Kind::connection_lost; }
  const std::string& hint() const { return hint_; }

 private:
  Kind kind_;
  std::string hint_;
};

/// One prepared statement. Placeholders are `?`, bound from 1, or `:name` (parameter_index gives its number); a
/// statement runs at its first `executeStep()`.
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
  /// Whether the column holds a number (SQLite: an INTEGER or REAL value; PostgreSQL: a numeric column type).
  virtual bool isNumber(int column) const = 0;
  /// How many columns its rows have, and each one's name (valid once it has run).
  virtual int columnCount() const = 0;
  virtual std::string columnName(int column) const = 0;
  /// The number of placeholder `:name` (its first), for binding it. Throws SqlError when there is none.
  virtual int parameter_index(const std::string& name) const = 0;
  /// Ready to run again, its bindings cleared (NULL). A statement that has a row left to read keeps SQLite from
  /// committing: step it to its end or reset it first.
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
  /// With `row_locks`, PostgreSQL runs it at READ COMMITTED instead: `body` takes the row locks it needs
  /// (`SELECT ... FOR UPDATE`), so that many writers of different rows never fail on each other (a work queue, as
  /// trials are claimed); SQLite's one write lock serves both.
  virtual void write_transaction(const std::function<void()>& body, bool row_locks = false) = 0;
};

/// A column of a statement's current row, read with SQLiteCpp's names.
class SqlColumn {
 public:
  SqlColumn(const SqlStatement& statement, int index) : statement_(statement), index_(index) {}
  bool isNull() const { return statement_.isNull(index_); }
  bool isNumber() const { return statement_.isNumber(index_); }
  std::int64_t getInt64() const { return statement_.getInt64(index_); }
  int getInt() const { return static_cast<int>(statement_.getInt64(index_)); }
  double getDouble() const { return statement_.getDouble(index_); }
  std::string getString() const { return statement_.getString(index_); }

 private:
  const SqlStatement& statement_;
  int index_;
};

/// A statement held by value, as the store's code writes them (SQLiteCpp's Statement's shape): binds by number or
/// by `:name`, and any integer type binds as a 64-bit integer, so no call is ambiguous between the overloads.
class SqlQuery {
 public:
  SqlQuery(SqlConnection& connection, const std::string& sql) : statement_(connection.prepare(sql)) {}

  template <class Integer, class = std::enable_if_t<std::is_integral_v<Integer>>>
  void bind(int index, Integer value) {
    statement_->bind(index, static_cast<std::int64_t>(value));
  }
  void bind(int index, double value) { statement_->bind(index, value); }
  void bind(int index, const std::string& value) { statement_->bind(index, value); }
  void bind(int index, const char* value) { statement_->bind(index, std::string(value)); }
  void bind(int index) { statement_->bind(index); }
  template <class... Value>
  void bind(const std::string& name, Value&&... value) {
    bind(statement_->parameter_index(name), std::forward<Value>(value)...);
  }
  bool executeStep() { return statement_->executeStep(); }
  std::int64_t exec() { return statement_->exec(); }
  SqlColumn getColumn(int index) const { return SqlColumn(*statement_, index); }
  int getColumnCount() const { return statement_->columnCount(); }
  std::string getColumnName(int index) const { return statement_->columnName(index); }
  void reset() { statement_->reset(); }

 private:
  std::unique_ptr<SqlStatement> statement_;
};

}  // namespace ft
