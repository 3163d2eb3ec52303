#pragma once
/// @file
/// The logger a plugin writes through; the core forwards to its own log.

#include <string_view>

namespace ft {

/// Severity of a log message.
enum class LogLevel { debug, info, warn };

/// Where a plugin writes messages for the user. Handed to every factory in its context.
///
/// Example:
///   ctx.log.info("read 60000 images from " + path);
class Logger {
 public:
  virtual ~Logger() = default;
  /// Writes one message at `level`.
  virtual void log(LogLevel level, std::string_view message) = 0;

  /// Writes a debug message (shown with `--verbose`).
  void debug(std::string_view message) { log(LogLevel::debug, message); }
  /// Writes an informational message.
  void info(std::string_view message) { log(LogLevel::info, message); }
  /// Writes a warning.
  void warn(std::string_view message) { log(LogLevel::warn, message); }
};

}  // namespace ft
