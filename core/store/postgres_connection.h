#pragma once
// A connection to a PostgreSQL server through libpq, for the results store's second backend (issue 23; the store
// itself does not use it yet: docs/store.md, "PostgreSQL"). What it settles now is what a user meets first: which
// locations are PostgreSQL ones, that credentials never travel in them, and that each way a connection fails is an
// error saying what to fix.

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
class PostgresConnection {
 public:
  PostgresConnection(const std::string& url, std::chrono::seconds connect_timeout = std::chrono::seconds(10));
  ~PostgresConnection();
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  /// The server's version as libpq gives it (150018 for 15.18).
  int server_version() const;
  /// Runs `sql` (one or more statements, no parameters) and returns the last statement's rows as text, NULL as "".
  /// Throws StoreError with the server's message and SQLSTATE.
  std::vector<std::vector<std::string>> query(const std::string& sql);

 private:
  std::string url_;
  pg_conn* connection_ = nullptr;
};

}  // namespace ft
