// PostgreSQL store locations and connections (store/postgres_connection.h) against a real, throw-away PostgreSQL 15
// (postgres_server.h): what a user meets first when pointing ftrun at a server, each mistake a clear error.
#include "postgres_server.h"
#include "store/postgres_connection.h"

#include <ftsdk/error.h>

#include <catch2/catch.hpp>

#include <cstdlib>

using Catch::Matchers::Contains;

namespace {

// Sets an environment variable for one scope (libpq reads PGPASSWORD and PGPASSFILE).
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnvironment() {
    if (old_.empty()) {
      unsetenv(name_);
    } else {
      setenv(name_, old_.c_str(), 1);
    }
  }

 private:
  const char* name_;
  std::string old_;
};

}  // namespace

TEST_CASE("PostgreSQL store locations are told from files, and a password in one is refused unshown", "[store][pg]") {
  CHECK(ft::is_postgres_url("postgresql://ftrun@db.example.org/runs"));
  CHECK(ft::is_postgres_url("postgres://db/runs"));
  CHECK_FALSE(ft::is_postgres_url("results/ftrun.db"));
  CHECK_FALSE(ft::is_postgres_url("postgresql.db"));
  CHECK_NOTHROW(ft::check_postgres_url("postgresql://ftrun@db.example.org:5433/runs?sslmode=require"));
  CHECK_THROWS_MATCHES(ft::check_postgres_url("postgresql://ftrun:hunter2@db.example.org/runs"), ft::StoreError,
                       Catch::Matchers::Predicate<ft::StoreError>([](const ft::StoreError& error) {
                         const std::string text = error.what();
                         return text.find("PGPASSWORD") != std::string::npos &&
                                text.find("hunter2") == std::string::npos &&
                                text.find("ftrun:***@db.example.org") != std::string::npos;
                       }));
  CHECK_THROWS_WITH(ft::check_postgres_url("postgresql://db/runs?password=hunter2"),
                    Contains("holds a password") && !Contains("hunter2"));
  CHECK_THROWS_WITH(ft::check_postgres_url("postgresql://db/runs?no_such_option=1"),
                    Contains("not a PostgreSQL URL libpq reads") && Contains("no_such_option"));
}

TEST_CASE("a throw-away PostgreSQL 15 accepts ftrun, and each wrong setting is a clear error before anything runs",
          "[store][pg]") {
  ftrun_test::PostgresServer server;
  if (!server.running()) {
    WARN("not run: the throw-away PostgreSQL server did not start: " << server.reason());
    return;
  }
  TempDir home;
  // No ~/.pgpass of the machine's user may answer for the tests.
  ScopedEnvironment passfile("PGPASSFILE", home / "none");
  {
    ScopedEnvironment password("PGPASSWORD", ftrun_test::PostgresServer::kPassword);
    ft::PostgresConnection connection(server.url());
    CHECK(connection.server_version() / 10000 == 15);
    CHECK(connection.query("SELECT 1 + 1").at(0).at(0) == "2");
    CHECK_THROWS_WITH(connection.query("SELECT * FROM no_such_table"),
                      Contains("no_such_table") && Contains("SQLSTATE 42P01"));
    // A missing database, a missing role.
    CHECK_THROWS_WITH(ft::PostgresConnection(server.url("no_such_db")),
                      Contains("database \"no_such_db\" does not exist") && Contains("createdb"));
    // An unknown user: the server answers as for a wrong password, not to tell which users exist.
    CHECK_THROWS_WITH(ft::PostgresConnection(server.url("postgres", "nobody_here")),
                      Contains("nobody_here") && Contains("or the server has no such user"));
  }
  {
    ScopedEnvironment password("PGPASSWORD", "wrong");
    CHECK_THROWS_WITH(ft::PostgresConnection(server.url()),
                      Contains("password authentication failed") && Contains("~/.pgpass"));
  }
  // No password anywhere: libpq finds none to send.
  CHECK_THROWS_WITH(ft::PostgresConnection(server.url()),
                    Contains("password") && Contains("PGPASSWORD") && Contains(server.url()));
  // ~/.pgpass (here through PGPASSFILE) answers as PGPASSWORD does.
  {
    const std::string file = home / "pgpass";
    std::ofstream(file) << "127.0.0.1:" << server.port() << ":*:ftrun:" << ftrun_test::PostgresServer::kPassword
                        << "\n";
    std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    ScopedEnvironment pgpass("PGPASSFILE", file);
    CHECK(ft::PostgresConnection(server.url()).query("SELECT current_user").at(0).at(0) == "ftrun");
  }
  // A port nobody listens on.
  CHECK_THROWS_WITH(ft::PostgresConnection("postgresql://ftrun@127.0.0.1:1/runs", std::chrono::seconds(2)),
                    Contains("no server answered") && Contains("127.0.0.1:1"));
}
