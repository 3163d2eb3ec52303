#pragma once
// The core's console log. spdlog lives behind these functions, in a translation unit without LibTorch on its
// include path: LibTorch 2.11 ships fmt 12 headers that shadow the fmt 9 that Debian's spdlog is built against.

#include <ftsdk/logger.h>

#include <string>
#include <string_view>

namespace ft::log {

/// Pattern and level; `verbose` shows debug messages.
void configure(bool verbose);
/// One process of several: its lines start with `label` ("rank 1"), and unless `verbose` only its warnings and
/// errors are shown (the leading process says the rest).
void configure_process(const std::string& label, bool leader, bool verbose);
void debug(std::string_view message);
void info(std::string_view message);
void warn(std::string_view message);
void error(std::string_view message);

/// The SDK's Logger for one component: messages go to the console log prefixed with "[kind:type]".
class ComponentLogger final : public Logger {
 public:
  explicit ComponentLogger(std::string prefix) : prefix_(std::move(prefix)) {}
  void log(LogLevel level, std::string_view message) override;

 private:
  std::string prefix_;
};

}  // namespace ft::log
