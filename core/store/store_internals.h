#pragma once
// What the store's source files share and nothing else sees: SQLite errors as StoreErrors, the write transaction,
// and small helpers. Included only by core/store/*.cpp.

#include "store/results_store.h"

#include <ftsdk/error.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <optional>
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

// Every SQLite failure of a read becomes a StoreError that names the file and says what to do about it.
template <class Fn>
auto guarded(const std::string& path, const std::string& action, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const SQLite::Exception& error) {
    throw store_error(path, action, error);
  }
}

// Errors worth another attempt: another process's lock outlasted the busy timeout, or the disk was full or
// failed for a moment.
inline bool transient(int code) {
  return code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_FULL || code == SQLITE_IOERR;
}

// A REAL column that may be NULL (a NaN metric, or a value a view has not got): as nothing, or as NaN where the
// caller keeps plain doubles.
inline std::optional<double> optional_real(const SQLite::Statement& query, int column) {
  if (query.getColumn(column).isNull()) return std::nullopt;
  return query.getColumn(column).getDouble();
}
inline double real_or_nan(const SQLite::Statement& query, int column) {
  return optional_real(query, column).value_or(std::nan(""));
}

}  // namespace store_internals

template <class Fn>
void ResultsStore::write(const std::string& action, int attempts, Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  for (int attempt = 1;; ++attempt) {
    try {
      SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
      fn();
      transaction.commit();
      return;
    } catch (const SQLite::Exception& error) {
      if (attempt < attempts && store_internals::transient(error.getErrorCode())) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
        continue;
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char detail[96];
      std::snprintf(detail, sizeof detail, " (after %d attempt%s over %.1f s)", attempt, attempt == 1 ? "" : "s",
                    seconds);
      throw store_internals::store_error(path_, action, error, detail);
    }
  }
}

}  // namespace ft
