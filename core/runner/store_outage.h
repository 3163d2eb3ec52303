#pragma once
// A training run whose store's server went away (restarted, or cut off by the network; issue 23): the run keeps
// training, holds the rows it could not write, tries again every few seconds, and writes them all once the server
// answers. Past the outage limit ($FTRUN_STORE_OUTAGE) it stops: the StoreUnreachable goes on, and the run is
// closed as failed with the reason (or, with the server still away, its closing kept in a journal beside its
// checkpoints, recorded by the next ftrun that opens the store). A store that answers with an error (an SQLite file
// locked or full) is not an outage: the run stops after the write's own retries, as before.

#include "log/log.h"
#include "store/results_store.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ft {

class StoreOutage {
 public:
  StoreOutage(std::chrono::seconds limit, std::int64_t run_id) : limit_(limit), run_id_(run_id) {}

  /// A checkpoint saved while the server was away, to record once it is back.
  std::optional<std::string> pending_checkpoint;

  /// Whether to write now: always while the server answers; while it is away, every few seconds, so that training
  /// steps do not each wait for a write's retries.
  bool time_to_try() const { return !away_since_ || Clock::now() >= next_try_; }

  /// Runs `write`. When the server cannot be reached, notes the outage and returns, unless it has lasted longer
  /// than the limit: then a StoreUnreachable saying so is thrown. `held`: the rows the run holds, for the log.
  template <class Write>
  void attempt(Write&& write, std::size_t held) {
    try {
      write();
      if (away_since_) {
        log::info(fmt::format("run {}: the store answers again after {:.0f} s; the {} row(s) held are recorded",
                              run_id_, seconds_away(), held));
      }
      away_since_.reset();
    } catch (const StoreUnreachable& error) {
      const auto now = Clock::now();
      if (!away_since_) {
        away_since_ = now;
        log::warn(fmt::format("run {}: {}\n  training goes on, holding its rows, for up to {} s ($FTRUN_STORE_OUTAGE)",
                              run_id_, error.what(), limit_.count()));
      }
      if (now - *away_since_ > limit_) {
        throw StoreUnreachable(
            fmt::format("the store could not be reached for {:.0f} s, longer than {} s "
                        "($FTRUN_STORE_OUTAGE): {}",
                        seconds_away(), limit_.count(), error.what()));
      }
      next_try_ = now + kRetryEvery;
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kRetryEvery{5};

  double seconds_away() const { return std::chrono::duration<double>(Clock::now() - *away_since_).count(); }

  std::chrono::seconds limit_;
  std::int64_t run_id_;
  std::optional<Clock::time_point> away_since_;
  Clock::time_point next_try_{};
};

}  // namespace ft
