#pragma once
// Ctrl-C and SIGTERM ask the running loop to stop at the next step, so the run is closed as "interrupted"
// and its checkpoint is consistent. A second Ctrl-C kills the process at once.

namespace ft {

/// Installs the SIGINT/SIGTERM handlers (idempotent).
void install_stop_handlers();
/// True once SIGINT or SIGTERM arrived.
bool stop_requested();
/// The signal that asked to stop (0 when none).
int stop_signal();

}  // namespace ft
