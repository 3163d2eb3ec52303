#include "store/postgres_connection.h"

#include <ftsdk/error.h>

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
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

// The value `keyword` has among the connection options libpq parsed from a URL, or nothing.
std::optional<std::string> option_value(const PQconninfoOption* options, const std::string& keyword) {
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->keyword == keyword && option->val != nullptr) return std::string(option->val);
  }
  return std::nullopt;
}

// The server settings of ftrun's sessions, as libpq's `options` keyword (which a reset connection keeps), before
// any the URL gives (?options=...), so that the user's own win. jit = off: the store's questions are many small index
// lookups (run_summary's correlated subqueries), whose costs the planner overestimates, so PostgreSQL's JIT compiled
// them for ~0.4 s each time to save milliseconds (bench/store_postgres.sh: `ftrun runs` over 1,000 runs took 1.15 s
// with it, 0.2 s without).
std::string session_options(const std::string& url) {
  std::string options;
  if (PQconninfoOption* parsed = PQconninfoParse(url.c_str(), nullptr)) {
    options = option_value(parsed, "options").value_or("");
    PQconninfoFree(parsed);
  }
  return "-c jit=off" + (options.empty() ? "" : " " + options);
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
  const bool has_password = option_value(options, "password").has_value();
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
  const std::string options = session_options(url);
  // expand_dbname = 1: `dbname` is the whole URL; the keywords before it are defaults the URL may override, those
  // after it win over the URL's own. TCP keepalives: a network that silently drops a worker's packets (a partition,
  // not a refused connection) is noticed within about a minute, not the system's two hours, so that the worker
  // holds its rows and tries again rather than waiting on a dead connection.
  const char* keywords[] = {
      "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
      "dbname",     "connect_timeout", "application_name",    "options",          nullptr};
  const char* values[] = {"1",    "30", "10", "3", "60000", url.c_str(), timeout.c_str(), "ftrun", options.c_str(),
                          nullptr};
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

std::string numbered_placeholders(const std::string& sql, int& count, std::vector<std::string>* names) {
  std::string out;
  std::vector<std::string> seen;  // the name of each number, "" for a `?`
  const auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a quoted text or name, doubled quotes inside it included
      const std::size_t end = sql.find(c, i + 1);
      const std::size_t stop = end == std::string::npos ? sql.size() : end + 1;
      out.append(sql, i, stop - i);
      i = stop - 1;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {  // a comment to the line's end
      const std::size_t end = sql.find('\n', i);
      const std::size_t stop = end == std::string::npos ? sql.size() : end;
      out.append(sql, i, stop - i);
      i = stop - 1;
    } else if (c == ':' && i + 1 < sql.size() && sql[i + 1] == ':') {  // PostgreSQL's cast, value::type
      out += "::";
      ++i;
    } else if (c == ':' && i + 1 < sql.size() && is_name(sql[i + 1]) && (i == 0 || !is_name(sql[i - 1]))) {
      std::size_t end = i + 1;
      while (end < sql.size() && is_name(sql[end])) ++end;
      const std::string name = sql.substr(i, end - i);
      auto it = std::find(seen.begin(), seen.end(), name);
      if (it == seen.end()) it = seen.insert(seen.end(), name);
      out += "$" + std::to_string(it - seen.begin() + 1);
      i = end - 1;
    } else if (c == '?') {
      seen.emplace_back();
      out += "$" + std::to_string(seen.size());
    } else {
      out += c;
    }
  }
  count = static_cast<int>(seen.size());
  if (names) *names = std::move(seen);
  return out;
}

namespace {

// How a failure with SQLSTATE `state` is to be taken: the server going away (class 08, connection exceptions;
// 57P01-57P03, shut down or not yet up), a collision of concurrent transactions (a serialization failure, a
// deadlock), a lock not available, or a mistake.
SqlError::Kind kind_of(const std::string& state) {
  if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03") {
    return SqlError::Kind::connection_lost;
  }
  if (state == "40001" || state == "40P01") return SqlError::Kind::conflict;
  if (state == "55P03") return SqlError::Kind::transient;
  return SqlError::Kind::permanent;
}

using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

constexpr const char* kServerAway =
    " (the connection to the server was lost: is it running, and reachable from this machine?)";

// A connection the server dropped (a restart, a network cut) is opened again before its next statement, so that
// a retried write finds the server as soon as it is back. libpq's reset keeps the same handle.
void reconnect_if_lost(pg_conn* connection) {
  if (PQstatus(connection) == CONNECTION_BAD) PQreset(connection);
}

// The result of a command, or a SqlError with the server's message and SQLSTATE.
Result checked(pg_conn* connection, PGresult* raw, const std::string& url) {
  Result result(raw, &PQclear);
  const auto status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) return result;
  const char* state = result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
  const bool lost = PQstatus(connection) != CONNECTION_OK;
  const SqlError::Kind kind = lost ? SqlError::Kind::connection_lost : kind_of(state ? state : "");
  throw SqlError("results store " + url + ": " + trimmed(PQerrorMessage(connection)) +
                     (state ? " (SQLSTATE " + std::string(state) + ")" : std::string()),
                 kind, kind == SqlError::Kind::connection_lost ? kServerAway : "");
}

class PostgresStatement final : public SqlStatement {
 public:
  PostgresStatement(pg_conn* connection, const std::string& url, const std::string& sql)
      : connection_(connection), url_(url), sql_(numbered_placeholders(sql, count_, &names_)) {
    values_.resize(static_cast<std::size_t>(count_));
  }

  void bind(int index, std::int64_t value) override { value_at(index) = std::to_string(value); }
  // Shortest text that reads back as the same double (std::to_chars), and PostgreSQL's names for the rest.
  void bind(int index, double value) override {
    if (std::isnan(value)) {
      value_at(index) = "NaN";
    } else if (std::isinf(value)) {
      value_at(index) = value > 0 ? "Infinity" : "-Infinity";
    } else {
      char text[32];
      const auto end = std::to_chars(text, text + sizeof text, value).ptr;
      value_at(index) = std::string(text, end);
    }
  }
  void bind(int index, const std::string& value) override { value_at(index) = value; }
  void bind(int index) override { value_at(index).reset(); }

  bool executeStep() override {
    if (!result_) run();
    return ++row_ < PQntuples(result_.get());
  }
  std::int64_t exec() override {
    run();
    const std::string changed = PQcmdTuples(result_.get());
    return changed.empty() ? 0 : std::stoll(changed);
  }
  bool isNull(int column) const override { return PQgetisnull(result_.get(), row_, column) == 1; }
  std::int64_t getInt64(int column) const override { return isNull(column) ? 0 : std::stoll(text(column)); }
  double getDouble(int column) const override { return isNull(column) ? 0.0 : std::strtod(text(column), nullptr); }
  std::string getString(int column) const override { return text(column); }
  bool isNumber(int column) const override {
    // int2, int4, int8, float4, float8, numeric (pg_type's oids, fixed since PostgreSQL 7)
    switch (PQftype(result_.get(), column)) {
      case 20:
      case 21:
      case 23:
      case 700:
      case 701:
      case 1700: return !isNull(column);
      default: return false;
    }
  }
  int columnCount() const override { return PQnfields(result_.get()); }
  std::string columnName(int column) const override { return PQfname(result_.get(), column); }
  int parameter_index(const std::string& name) const override {
    const auto it = std::find(names_.begin(), names_.end(), name);
    if (it == names_.end())
      throw SqlError("results store " + url_ + ": no parameter " + name + " in " + sql_, SqlError::Kind::permanent);
    return static_cast<int>(it - names_.begin()) + 1;
  }
  void reset() override {
    result_.reset();
    row_ = -1;
    for (auto& value : values_) value.reset();
  }

 private:
  std::optional<std::string>& value_at(int index) {
    if (index < 1 || index > count_) {
      throw SqlError("results store " + url_ + ": no placeholder " + std::to_string(index) + " in " + sql_,
                     SqlError::Kind::permanent);
    }
    return values_[static_cast<std::size_t>(index - 1)];
  }
  const char* text(int column) const { return PQgetvalue(result_.get(), row_, column); }
  void run() {
    reconnect_if_lost(connection_);
    std::vector<const char*> values;
    for (const auto& value : values_) values.push_back(value ? value->c_str() : nullptr);
    result_ =
        checked(connection_,
                PQexecParams(connection_, sql_.c_str(), count_, nullptr, values.data(), nullptr, nullptr, 0), url_);
    row_ = -1;
  }

  pg_conn* connection_;
  std::string url_;
  int count_ = 0;
  std::vector<std::string> names_;
  std::string sql_;
  std::vector<std::optional<std::string>> values_;
  Result result_{nullptr, &PQclear};
  int row_ = -1;
};

}  // namespace

std::unique_ptr<SqlStatement> PostgresConnection::prepare(const std::string& sql) {
  return std::make_unique<PostgresStatement>(connection_, url_, sql);
}

void PostgresConnection::execute(const std::string& sql) {
  reconnect_if_lost(connection_);
  checked(connection_, PQexec(connection_, sql.c_str()), url_);
}

void PostgresConnection::write_transaction(const std::function<void()>& body, bool row_locks) {
  execute(row_locks ? "BEGIN ISOLATION LEVEL READ COMMITTED" : "BEGIN ISOLATION LEVEL SERIALIZABLE");
  try {
    body();
    execute("COMMIT");
  } catch (...) {
    // A failed COMMIT has ended the transaction already; ROLLBACK then only warns.
    PQclear(PQexec(connection_, "ROLLBACK"));
    throw;
  }
}

}  // namespace ft
