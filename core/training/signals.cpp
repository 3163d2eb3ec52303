#include "training/signals.h"

#include <atomic>
#include <csignal>
#include <string>

namespace ft {
namespace {

std::atomic<int> received{0};

extern "C" void on_stop_signal(int signal) {
  received.store(signal);
  // The next one is not caught: a user pressing Ctrl-C twice wants out now.
  std::signal(signal, SIG_DFL);
}

}  // namespace

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

bool stop_requested() { return received.load() != 0; }

int stop_signal() { return received.load(); }

std::string stop_signal_name() {
  const int signal = stop_signal();
  return signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal " + std::to_string(signal);
}

}  // namespace ft
