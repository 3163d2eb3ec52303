#include "loop/progress.h"

#include <fmt/format.h>
#include "log/log.h"

#include <unistd.h>

#include <cstdio>

namespace ft {

std::string format_duration(double seconds) {
  const auto total = static_cast<std::int64_t>(seconds + 0.5);
  if (total >= 3600) return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
  return fmt::format("{}:{:02}", total / 60, total % 60);
}

Progress::Progress(std::int64_t epochs, std::int64_t steps_per_epoch)
    : terminal_(::isatty(STDERR_FILENO) == 1),
      epochs_(epochs),
      steps_per_epoch_(steps_per_epoch),
      run_start_(Clock::now()),
      epoch_start_(run_start_),
      last_print_(run_start_) {}

void Progress::start_epoch(std::int64_t epoch) {
  epoch_ = epoch;
  epoch_start_ = Clock::now();
}

void Progress::step(std::int64_t step, double loss, std::int64_t images) {
  const auto now = Clock::now();
  // A terminal gets ~5 updates a second; a log file one line every 30 seconds.
  const auto interval = terminal_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(30000);
  if (now - last_print_ < interval && step != steps_per_epoch_) return;
  if (!terminal_ && step == steps_per_epoch_) return;  // the epoch summary follows
  last_print_ = now;
  const double epoch_seconds = std::chrono::duration<double>(now - epoch_start_).count();
  const double images_per_second = epoch_seconds > 0 ? images / epoch_seconds : 0;
  const double done = (epoch_ - 1) + static_cast<double>(step) / steps_per_epoch_;
  const double elapsed = std::chrono::duration<double>(now - run_start_).count();
  const double eta = done > 0 ? elapsed * (epochs_ - done) / done : 0;
  const std::string line = fmt::format("epoch {}/{} step {}/{} loss {:.4f} {:.0f} examples/s ETA {}", epoch_, epochs_,
                                       step, steps_per_epoch_, loss, images_per_second, format_duration(eta));
  if (terminal_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    line_shown_ = true;
  } else {
    log::info(line);
  }
}

void Progress::clear() {
  if (!line_shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  line_shown_ = false;
}

}  // namespace ft
