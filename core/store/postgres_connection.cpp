#include "store/postgres_connection.h"

#include <ftsdk/error.h>

#include <libpq-fe.h>

#include <regex>

namespace ft {
namespace {

// The URL with any password replaced by ***, for messages: a refused URL is still shown, never its secret.
std::string masked(const std::string& url) {
  static const std::regex user_password(R"(^(postgres(?:ql)?://[^:/@?]*):[^@/?]*@)");
  static const std::regex query_password(R"(([?&]password=)[^&]*)");
  return std::regex_replace(std::regex_replace(url, user_password, "$1:***@"), query_password, "$1***");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// What to do about a connection libpq could not open, from its message (libpq reports no code before a session
// exists; its messages, and the server's during authentication, are in English unless lc_messages says otherwise).
std::string advice_for(const std::string& message) {
  if (contains(message, "password authentication failed")) {
    // The server says the same for a user it does not know, so as not to tell which users exist.
    return "the password is wrong, or the server has no such user (it does not say which): ftrun reads no "
           "password itself; libpq takes it from PGPASSWORD or ~/.pgpass (host:port:database:user:password, mode "
           "0600)";
  }
  if (contains(message, "no password supplied")) {
    return "the server asks for a password and none was found: set PGPASSWORD or add a line to ~/.pgpass "
           "(host:port:database:user:password, mode 0600)";
  }
  if (contains(message, "does not exist") && contains(message, "database")) {
    return "the database does not exist: create it (createdb -h HOST -p PORT -U USER NAME) or name another in the "
           "URL";
  }
  if (contains(message, "does not exist") && contains(message, "role")) {
    return "the user does not exist on the server: name another in the URL (postgresql://USER@HOST/DATABASE) or "
           "ask its administrator for one";
  }
  if (contains(message, "Connection refused") || contains(message, "could not connect") ||
      contains(message, "timeout expired") || contains(message, "translate host name") ||
      contains(message, "No such file or directory")) {
    return "no server answered: check the host and port in the URL and that the server is running and accepts "
           "connections from this machine (listen_addresses, pg_hba.conf)";
  }
  return "";
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

bool is_postgres_url(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

void check_postgres_url(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    const std::string reason = error ? trimmed(error) : "out of memory";
    PQfreemem(error);
    throw StoreError("results store " + masked(url) + ": not a PostgreSQL URL libpq reads (" + reason +
                     "); expected postgresql://USER@HOST[:PORT]/DATABASE");
  }
  bool has_password = false;
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (std::string(option->keyword) == "password" && option->val != nullptr) has_password = true;
  }
  PQconninfoFree(options);
  if (has_password) {
    throw StoreError("results store " + masked(url) +
                     ": the URL holds a password; ftrun records where its store is and a command line is visible "
                     "to every user of this machine, so give the password through PGPASSWORD or ~/.pgpass "
                     "(host:port:database:user:password, mode 0600) and leave it out of the URL");
  }
}

PostgresConnection::PostgresConnection(const std::string& url, std::chrono::seconds connect_timeout) : url_(url) {
  check_postgres_url(url);
  const std::string timeout = std::to_string(connect_timeout.count());
  // expand_dbname = 1: `dbname` is the whole URL, the other keywords add to it.
  const char* keywords[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(), timeout.c_str(), "ftrun", nullptr};
  connection_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (connection_ == nullptr) throw StoreError("results store " + url + ": cannot connect: out of memory");
  if (PQstatus(connection_) != CONNECTION_OK) {
    const std::string message = trimmed(PQerrorMessage(connection_));
    PQfinish(connection_);
    connection_ = nullptr;
    const std::string advice = advice_for(message);
    throw StoreError("results store " + url + ": cannot connect: " + message +
                     (advice.empty() ? std::string() : "\n  " + advice));
  }
}

PostgresConnection::~PostgresConnection() {
  if (connection_ != nullptr) PQfinish(connection_);
}

int PostgresConnection::server_version() const { return PQserverVersion(connection_); }

std::vector<std::vector<std::string>> PostgresConnection::query(const std::string& sql) {
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(connection_, sql.c_str()), &PQclear);
  const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
    throw StoreError("results store " + url_ + ": " + trimmed(PQerrorMessage(connection_)) +
                     (state ? " (SQLSTATE " + std::string(state) + ")" : std::string()));
  }
  std::vector<std::vector<std::string>> rows(static_cast<std::size_t>(PQntuples(result.get())));
  for (std::size_t row = 0; row < rows.size(); ++row) {
    for (int column = 0; column < PQnfields(result.get()); ++column) {
      rows[row].emplace_back(PQgetvalue(result.get(), static_cast<int>(row), column));
    }
  }
  return rows;
}

}  // namespace ft
