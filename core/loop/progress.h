#pragma once
// The live progress line on a terminal, or plain periodic log lines when stderr is not a terminal (CI, files).

#include <chrono>
#include <cstdint>
#include <string>

namespace ft {

class Progress {
 public:
  Progress(std::int64_t epochs, std::int64_t steps_per_epoch);
  void start_epoch(std::int64_t epoch);
  /// After each step: `step` within the epoch (1-based), the step's loss, images processed this epoch.
  void step(std::int64_t step, double loss, std::int64_t images);
  /// Clears the live line before a regular log line is printed.
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  bool terminal_;
  std::int64_t epochs_, steps_per_epoch_, epoch_ = 0;
  Clock::time_point run_start_, epoch_start_, last_print_;
  bool line_shown_ = false;
};

/// "1:02:03" or "2:03".
std::string format_duration(double seconds);

}  // namespace ft
