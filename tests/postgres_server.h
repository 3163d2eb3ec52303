#pragma once
// A throw-away PostgreSQL server for the tests: Debian's PostgreSQL 15 (`initdb`, `pg_ctl`) in a temporary folder,
// on a free port of 127.0.0.1, with a password-checked superuser, stopped and removed when the object goes. As root
// (CI), the server runs as `nobody`, as PostgreSQL refuses to run as root. Where it cannot start (PostgreSQL not
// installed), `reason()` says why and the tests using it say so and skip.

#include "scoped_environment.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ftrun_test {

class PostgresServer {
 public:
  static constexpr const char* kUser = "ftrun";
  static constexpr const char* kPassword = "throw-away secret";

  PostgresServer() {
    const std::string bin = "/usr/lib/postgresql/15/bin";
    if (!std::filesystem::exists(bin + "/initdb")) {
      reason_ = bin + "/initdb not found (Debian's postgresql-15; scripts/setup installs it)";
      return;
    }
    port_ = free_port();
    const std::string data = dir_ / "data";
    std::ofstream(dir_ / "password") << kPassword << "\n";
    // As root, everything the server touches belongs to nobody, and each command runs as nobody.
    const bool root = geteuid() == 0;
    const std::string as = root ? "runuser -u nobody -- " : "";
    if (root && std::system(("chown -R nobody " + dir_.path().string()).c_str()) != 0) {
      reason_ = "cannot hand " + dir_.path().string() + " to nobody";
      return;
    }
    if (!run(as + bin + "/initdb -D " + data + " -U " + kUser + " --pwfile=" + (dir_ / "password") +
             " --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 > " + (dir_ / "initdb.log") +
             " 2>&1")) {
      reason_ = "initdb failed: " + read(dir_ / "initdb.log");
      return;
    }
    const std::string options = "-c listen_addresses=127.0.0.1 -c port=" + std::to_string(port_) +
                                " -c unix_socket_directories=" + dir_.path().string() + " -c fsync=off";
    start_command_ = as + bin + "/pg_ctl -D " + data + " -w -t 60 -l " + (dir_ / "server.log") + " -o '" + options +
                     "' start > /dev/null 2>&1";
    stop_command_ = as + bin + "/pg_ctl -D " + data + " -w -m fast stop > /dev/null 2>&1";
    if (!start()) reason_ = "pg_ctl start failed: " + read(dir_ / "server.log");
  }
  ~PostgresServer() { stop(); }
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  bool running() const { return reason_.empty(); }
  /// Why the server is not running.
  const std::string& reason() const { return reason_; }
  int port() const { return port_; }
  /// Stops the server (closing every connection, as a restart does) or starts it again, on the same port.
  bool stop() {
    if (!up_) return true;
    up_ = !run(stop_command_);
    return !up_;
  }
  bool start() {
    if (!up_ && !start_command_.empty()) up_ = run(start_command_);
    return up_;
  }
  /// A URL for `database` on this server, as user `user` (no password: the tests set PGPASSWORD).
  std::string url(const std::string& database = "postgres", const std::string& user = kUser) const {
    return "postgresql://" + user + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

 private:
  static bool run(const std::string& command) { return std::system(command.c_str()) == 0; }
  static std::string read(const std::string& path) {
    std::ifstream file(path);
    return std::string(std::istreambuf_iterator<char>(file), {});
  }
  // A port no one listens on now: the kernel's choice for a socket bound to port 0.
  static int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
  }

  TempDir dir_;
  int port_ = 0;
  std::string reason_, start_command_, stop_command_;
  bool up_ = false;
};

/// The server for one test, with PGPASSWORD set to its password while the test runs (and so for the processes
/// the test starts). Where the server could not start, `unavailable()` says why as a warning, for the test to skip.
class TestServer : public PostgresServer {
 public:
  bool unavailable() const {
    if (running()) return false;
    WARN("not run: the throw-away PostgreSQL server did not start: " << reason());
    return true;
  }

 private:
  ScopedEnvironment password_{"PGPASSWORD", kPassword};
};

}  // namespace ftrun_test
