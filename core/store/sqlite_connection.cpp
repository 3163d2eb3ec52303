#include "store/sqlite_connection.h"

#include "store/store_internals.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

namespace ft {
namespace {

// SQLite's errors as SqlErrors, transient as the store's own writes judge them (store_internals::transient).
SqlError sql_error(const SQLite::Exception& error) {
  return SqlError(
      error.what(),
      store_internals::transient(error.getErrorCode()) ? SqlError::Kind::transient : SqlError::Kind::permanent,
      store_internals::hint_for(error.getErrorCode() & 0xff));
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
  bool isNumber(int column) const override {
    const auto value = statement_.getColumn(column);
    return value.isInteger() || value.isFloat();
  }
  int columnCount() const override { return statement_.getColumnCount(); }
  std::string columnName(int column) const override { return statement_.getColumnName(column); }
  int parameter_index(const std::string& name) const override {
    const int index = statement_.getIndex(name.c_str());
    if (index == 0) throw SqlError("no parameter " + name + " in " + statement_.getQuery(), SqlError::Kind::permanent);
    return index;
  }
  void reset() override {
    translated([&] {
      statement_.reset();
      statement_.clearBindings();
    });
  }

 private:
  SQLite::Statement statement_;
};

// ftrun_number(value): a number as itself, a text as the number it spells (or NULL), anything else NULL; always a
// REAL, as PostgreSQL's twin returns DOUBLE PRECISION.
void ftrun_number(sqlite3_context* context, int, sqlite3_value** values) {
  sqlite3_value* value = values[0];
  switch (sqlite3_value_type(value)) {
    case SQLITE_INTEGER:
    case SQLITE_FLOAT: sqlite3_result_double(context, sqlite3_value_double(value)); return;
    case SQLITE_TEXT: {
      const auto number = store_internals::whole_number(reinterpret_cast<const char*>(sqlite3_value_text(value)));
      if (number) {
        sqlite3_result_double(context, *number);
        return;
      }
      break;
    }
    default: break;
  }
  sqlite3_result_null(context);
}

// ftrun_now(): the time as ftrun writes it (store_internals::now_utc), by this machine's clock, as PostgreSQL's
// twin gives the server's.
void ftrun_now(sqlite3_context* context, int, sqlite3_value**) {
  const std::string now = store_internals::now_utc();
  sqlite3_result_text(context, now.c_str(), static_cast<int>(now.size()), SQLITE_TRANSIENT);
}

}  // namespace

SqliteConnection::SqliteConnection(SQLite::Database& database) : database_(database) {
  int code = sqlite3_create_function_v2(database.getHandle(), "ftrun_number", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                        nullptr, &ftrun_number, nullptr, nullptr, nullptr);
  if (code == SQLITE_OK) {
    code = sqlite3_create_function_v2(database.getHandle(), "ftrun_now", 0, SQLITE_UTF8, nullptr, &ftrun_now, nullptr,
                                      nullptr, nullptr);
  }
  if (code != SQLITE_OK)
    throw SqlError(std::string("cannot define ftrun's SQL functions: ") + sqlite3_errstr(code),
                   SqlError::Kind::permanent);
}

std::unique_ptr<SqlStatement> SqliteConnection::prepare(const std::string& sql) {
  return std::make_unique<SqliteStatement>(database_, sql);
}

void SqliteConnection::execute(const std::string& sql) {
  translated([&] { database_.exec(sql); });
}

void SqliteConnection::write_transaction(const std::function<void()>& body, bool /*row_locks: the write lock*/) {
  translated([&] {
    SQLite::Transaction transaction(database_, SQLite::TransactionBehavior::IMMEDIATE);
    body();
    transaction.commit();
  });
}

}  // namespace ft
