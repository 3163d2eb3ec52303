#pragma once
// `ftrun serve`: the store in a browser (docs/cli.md). No LibTorch.

#include <string>

namespace ft {

struct ServeOptions {
  std::string store;
  /// 127.0.0.1 unless the user opens it to others; any other address needs a token.
  std::string host = "127.0.0.1";
  /// 0: any free port (printed).
  int port = 8765;
  /// Asked for on every request when set; generated and printed when the host is not a loopback address.
  std::string token;
};

/// Serves the store until Ctrl-C or SIGTERM; returns the exit code.
int command_serve(const ServeOptions& options);

}  // namespace ft
