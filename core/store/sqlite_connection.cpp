#include "store/sqlite_connection.h"

#include "store/store_internals.h"

#include <SQLiteCpp/SQLiteCpp.h>

namespace ft {
namespace {

// SQLite's errors as SqlErrors, transient as the store's own writes judge them (store_internals::transient).
SqlError sql_error(const SQLite::Exception& error) {
  return SqlError(error.what(), store_internals::transient(error.getErrorCode()));
}

template <class Fn>
auto translated(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const SQLite::Exception& error) {
    throw sql_error(error);
  }
}

class SqliteStatement final : public SqlStatement {
 public:
  SqliteStatement(SQLite::Database& database, const std::string& sql)
      : statement_(translated([&] { return SQLite::Statement(database, sql); })) {}

  void bind(int index, std::int64_t value) override {
    translated([&] { statement_.bind(index, value); });
  }
  void bind(int index, double value) override {
    translated([&] { statement_.bind(index, value); });
  }
  void bind(int index, const std::string& value) override {
    translated([&] { statement_.bind(index, value); });
  }
  void bind(int index) override {
    translated([&] { statement_.bind(index); });
  }
  bool executeStep() override {
    return translated([&] { return statement_.executeStep(); });
  }
  std::int64_t exec() override {
    return translated([&] { return static_cast<std::int64_t>(statement_.exec()); });
  }
  bool isNull(int column) const override { return statement_.getColumn(column).isNull(); }
  std::int64_t getInt64(int column) const override { return statement_.getColumn(column).getInt64(); }
  double getDouble(int column) const override { return statement_.getColumn(column).getDouble(); }
  std::string getString(int column) const override { return statement_.getColumn(column).getString(); }
  void reset() override {
    translated([&] { statement_.reset(); });
  }

 private:
  SQLite::Statement statement_;
};

}  // namespace

std::unique_ptr<SqlStatement> SqliteConnection::prepare(const std::string& sql) {
  return std::make_unique<SqliteStatement>(database_, sql);
}

void SqliteConnection::execute(const std::string& sql) {
  translated([&] { database_.exec(sql); });
}

void SqliteConnection::write_transaction(const std::function<void()>& body) {
  translated([&] {
    SQLite::Transaction transaction(database_, SQLite::TransactionBehavior::IMMEDIATE);
    body();
    transaction.commit();
  });
}

}  // namespace ft
