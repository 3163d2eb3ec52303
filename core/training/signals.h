#pragma once
// Ctrl-C and SIGTERM ask the running loop to stop at the next step, so the run is closed as "interrupted"
// and its checkpoint is consistent. A second Ctrl-C kills the process at once.

#include <ftsdk/error.h>

#include <string>

namespace ft {

/// Thrown when Ctrl-C or SIGTERM stops a run: by the loop at its next step, or by a wait for other processes (a
/// collective, the launcher's store), which checks for the signal while it waits.
class Interrupted : public Error {
 public:
  using Error::Error;
};

/// "SIGINT" or "SIGTERM" (or "signal N") for the signal that asked to stop.
std::string stop_signal_name();

/// Installs the SIGINT/SIGTERM handlers (idempotent).
void install_stop_handlers();
/// True once SIGINT or SIGTERM arrived.
bool stop_requested();
/// The signal that asked to stop (0 when none).
int stop_signal();

}  // namespace ft
