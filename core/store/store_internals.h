#pragma once
// What the store's source files share and nothing else sees: database errors as StoreErrors, the write transaction,
// and small helpers. Included only by core/store/*.cpp.

#include "store/results_store.h"
#include "store/schema.h"
#include "store/sql_connection.h"

#include <ftsdk/error.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <thread>

namespace ft {
namespace store_internals {

inline std::string now_utc() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

inline std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

inline bool process_alive(std::int64_t pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

inline std::string hint_for(int code) {
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
    return " (another process holds a lock on it; wait for it to finish, raise $FTRUN_STORE_TIMEOUT (seconds), or "
           "use another store with --store)";
  }
  if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
    return " (the file is not an SQLite database or is damaged; move it aside to start a new store)";
  }
  if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_PERM) {
    return " (check that the folder exists and is writable, or choose another path with --store)";
  }
  if (code == SQLITE_FULL || code == SQLITE_IOERR) return " (is the disk full?)";
  return "";
}

inline StoreError store_error(const std::string& path, const std::string& action, const SQLite::Exception& error,
                              const std::string& detail = {}) {
  return StoreError("results store " + path + ": cannot " + action + ": " + error.what() + detail +
                    hint_for(error.getErrorCode()));
}
inline StoreError store_error(const std::string& path, const std::string& action, const SqlError& error,
                              const std::string& detail = {}) {
  return StoreError("results store " + path + ": cannot " + action + ": " + error.what() + detail + error.hint());
}

// Every database failure of a read becomes a StoreError that names the store and says what to do about it.
template <class Fn>
auto guarded(const std::string& path, const std::string& action, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const SqlError& error) {
    throw store_error(path, action, error);
  } catch (const SQLite::Exception& error) {
    throw store_error(path, action, error);
  }
}

// Errors worth another attempt: another process's lock outlasted the busy timeout, or the disk was full or
// failed for a moment.
inline bool transient(int code) {
  return code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_FULL || code == SQLITE_IOERR;
}

// `text` as a number when the whole of it is one ("0.01", "1e-3", "-inf"), else nothing: how ftrun_number reads
// a parameter's text on both backends (its PostgreSQL twin is a regular expression in postgres_schema.cpp).
inline std::optional<double> whole_number(const std::string& text) {
  if (text.empty() || text.find_first_of("xX") != std::string::npos) return std::nullopt;  // no hexadecimal
  const char* begin = text.c_str();
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  while (end != begin && std::isspace(static_cast<unsigned char>(*end))) ++end;
  if (end == begin || *end != '\0') return std::nullopt;
  return value;
}

// How a REAL parameter reads as text, the same from both backends: SQLite's own form ("0.01", "1.0", "1.0e+30":
// 15 digits and always a decimal point, as `key || '=' || value` writes it), or, where 15 digits would not give
// the number back, its shortest exact form. A PostgreSQL store keeps parameters as TEXT, written in this form.
inline std::string real_text(double value) {
  char text[40];
  sqlite3_snprintf(sizeof text, text, "%!.15g", value);
  if (std::strtod(text, nullptr) == value) return text;
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}

// A parameter's value as text: a REAL in SQLite (or a number PostgreSQL computed) as real_text writes it;
// integers and texts as they are.
inline std::string value_text(const SqlColumn& column) {
  const std::string text = column.getString();
  if (column.isNumber() && text.find_first_of(".eEnN") != std::string::npos) return real_text(column.getDouble());
  return text;
}

// A pause before retrying a transaction that collided with another: random, so that two writers drift apart, and
// longer with each attempt, up to a quarter of a second.
inline std::chrono::milliseconds conflict_pause(int attempt) {
  thread_local std::minstd_rand random(
      static_cast<unsigned>(::getpid()) ^
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const int most = 5 + 10 * std::min(attempt, 25);
  return std::chrono::milliseconds(1 + static_cast<int>(random() % static_cast<unsigned>(most)));
}

/// How many of `rows` (from the first) run `run_id` has recorded already: a write cut off by a lost connection
/// may have committed before the connection went, and its retry, or the next write of the rows it held, must not
/// record them twice. The run's last recorded row is looked for among `rows` (a run's rows never repeat a scope,
/// epoch, step and name).
std::size_t rows_already_recorded(SqlConnection& sql, std::int64_t run_id, const std::vector<MetricRow>& rows);

// Refuses a store whose schema is newer than this ftrun's, whichever its backend.
inline void refuse_newer_schema(const std::string& path, int version) {
  if (version <= kStoreSchemaVersion) return;
  throw StoreError("results store " + path + " has schema version " + std::to_string(version) +
                   ", newer than this ftrun understands (" + std::to_string(kStoreSchemaVersion) +
                   "): use a newer ftrun or another store");
}

// Whether run_params.value is TEXT (PostgreSQL), so that a double parameter is written as real_text shows it;
// SQLite keeps each value's own type.
inline bool parameters_are_text(const SqlConnection& sql) { return std::string(sql.dialect()) == "postgresql"; }

// A REAL column that may be NULL (a NaN metric, or a value a view has not got): as nothing, or as NaN where the
// caller keeps plain doubles.
inline std::optional<double> optional_real(const SqlQuery& query, int column) {
  if (query.getColumn(column).isNull()) return std::nullopt;
  return query.getColumn(column).getDouble();
}
inline double real_or_nan(const SqlQuery& query, int column) {
  return optional_real(query, column).value_or(std::nan(""));
}

}  // namespace store_internals

template <class Fn>
void ResultsStore::write(const std::string& action, int attempts, Fn&& fn, bool row_locks) {
  const auto start = std::chrono::steady_clock::now();
  for (int attempt = 1;; ++attempt) {
    try {
      sql_->write_transaction(fn, row_locks);
      return;
    } catch (const SqlError& error) {
      // PostgreSQL reports concurrent transactions that collide at once, where SQLite would have waited for its
      // lock up to the busy timeout: such conflicts are retried until that timeout, after a short random pause
      // so that the colliding writers do not meet again.
      const bool conflict_in_time =
          error.conflict() && std::chrono::steady_clock::now() - start < options_.busy_timeout;
      if (error.transient() && (attempt < attempts || conflict_in_time)) {
        std::this_thread::sleep_for(error.conflict() ? store_internals::conflict_pause(attempt)
                                                     : std::chrono::milliseconds(200 * attempt));
        continue;
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char detail[96];
      std::snprintf(detail, sizeof detail, " (after %d attempt%s over %.1f s)", attempt, attempt == 1 ? "" : "s",
                    seconds);
      StoreError failure = store_internals::store_error(path_, action, error, detail);
      if (error.connection_lost()) throw StoreUnreachable(failure.what());
      throw failure;
    }
  }
}

}  // namespace ft
