#pragma once
// A connection to a PostgreSQL server through libpq, behind the store's SqlConnection interface: the results
// store's second backend (issue 23; docs/store.md, "PostgreSQL"). It also settles
// what a user meets first: which locations are PostgreSQL ones, that credentials never travel in them, and that
// each way a connection fails is an error saying what to fix.

#include "store/sql_connection.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

struct pg_conn;

namespace ft {

/// True for a libpq connection URL (`postgresql://` or `postgres://`): a store location on a server rather than
/// an SQLite file.
bool is_postgres_url(const std::string& location);

/// Checks a PostgreSQL store location before anything connects: a URL libpq can parse, without a password (in the
/// URL or as `?password=`): ftrun records where its store is, and a command line is visible to every user of the
/// machine through `ps`, so the password comes from PGPASSWORD or ~/.pgpass (libpq reads both). Throws StoreError
/// saying which.
void check_postgres_url(const std::string& url);

/// An open connection. Each failure to connect is a StoreError naming the URL and what to fix: a server that
/// does not answer (host, port, is it running), a wrong or missing password (PGPASSWORD, ~/.pgpass), a database
/// that does not exist (createdb), a role that does not exist.
class PostgresConnection final : public SqlConnection {
 public:
  PostgresConnection(const std::string& url, std::chrono::seconds connect_timeout = std::chrono::seconds(10));
  ~PostgresConnection() override;
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  /// The server's version as libpq gives it (150018 for 15.18).
  int server_version() const;

  const char* dialect() const override { return "postgresql"; }
  /// `?` placeholders become PostgreSQL's `$1, $2, ...` (not inside quotes or comments); values travel as text,
  /// doubles in their shortest exact form, so they come back bit for bit.
  std::unique_ptr<SqlStatement> prepare(const std::string& sql) override;
  void execute(const std::string& sql) override;
  /// SERIALIZABLE: as if the transactions ran one after another, as SQLite's write lock makes them; a conflict is
  /// a transient SqlError (SQLSTATE 40001), to be retried as a busy SQLite store is.
  void write_transaction(const std::function<void()>& body, bool row_locks = false) override;

 private:
  std::string url_;
  pg_conn* connection_ = nullptr;
};

/// `sql` with its `?` and `:name` placeholders numbered as PostgreSQL's `$1, $2, ...` (a name used twice is one
/// number), leaving quoted text, quoted names, comments and `::` casts as they are; `count` receives how many
/// numbers there are, and `names` (when given) the name of each, "" for a `?`.
std::string numbered_placeholders(const std::string& sql, int& count, std::vector<std::string>* names = nullptr);

}  // namespace ft
