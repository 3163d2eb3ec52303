#include "log/log.h"

#include <spdlog/spdlog.h>

namespace ft::log {

void configure(bool verbose) {
  spdlog::set_pattern("%H:%M:%S %^%l%$ %v");
  spdlog::set_level(verbose ? spdlog::level::debug : spdlog::level::info);
}

void configure_process(const std::string& label, bool leader, bool verbose) {
  spdlog::set_pattern("%H:%M:%S %^%l%$ [" + label + "] %v");
  if (!leader && !verbose) spdlog::set_level(spdlog::level::warn);
}

void debug(std::string_view message) { spdlog::debug("{}", message); }
void info(std::string_view message) { spdlog::info("{}", message); }
void warn(std::string_view message) { spdlog::warn("{}", message); }
void error(std::string_view message) { spdlog::error("{}", message); }

void ComponentLogger::log(LogLevel level, std::string_view message) {
  switch (level) {
    case LogLevel::debug: spdlog::debug("[{}] {}", prefix_, message); break;
    case LogLevel::info: spdlog::info("[{}] {}", prefix_, message); break;
    case LogLevel::warn: spdlog::warn("[{}] {}", prefix_, message); break;
  }
}

}  // namespace ft::log
