#pragma once
// A TCP relay on 127.0.0.1 in front of a server port, for the network faults of issue 23: one worker reaches the
// PostgreSQL server through it while the others reach the server directly, and `cut()` partitions that worker
// alone: its connections are torn down and new ones refused until `mend()`, while the server stays up for the
// rest. (A partition that silently drops packets needs the kernel's help, iptables, which the tests do not assume;
// libpq's keepalives, which ftrun sets, turn it into this case within about a minute.)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ftrun_test {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof address;
    if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(listener_, 64) != 0 || getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("TcpProxy: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    accepting_ = std::thread([this] { accept_loop(); });
  }
  ~TcpProxy() {
    stopping_ = true;
    cut();
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    accepting_.join();
    for (auto& relay : relays_) relay.join();
    for (const int fd : open_) close(fd);
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }

  /// Tears down every relayed connection, and refuses new ones until mend().
  void cut() {
    std::lock_guard<std::mutex> lock(mutex_);
    cut_ = true;
    for (const int fd : open_) shutdown(fd, SHUT_RDWR);
  }
  void mend() {
    std::lock_guard<std::mutex> lock(mutex_);
    cut_ = false;
  }

 private:
  static sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    return address;
  }

  void accept_loop() {
    while (!stopping_) {
      const int client = accept(listener_, nullptr, nullptr);
      if (client < 0) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      const int server = cut_ || stopping_ ? -1 : socket(AF_INET, SOCK_STREAM, 0);
      const sockaddr_in target = loopback(target_port_);
      if (server < 0 || connect(server, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
        if (server >= 0) close(server);
        close(client);  // refused, as by a network that does not reach the server
        continue;
      }
      open_.push_back(client);
      open_.push_back(server);
      relays_.emplace_back([client, server] { relay(client, server); });
    }
  }

  // Copies bytes both ways until either side closes or is shut down by cut().
  static void relay(int a, int b) {
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    char buffer[65536];
    for (bool open = true; open;) {
      if (poll(fds, 2, -1) < 0) break;
      for (int i = 0; i < 2 && open; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
        open = got > 0 && write_all(fds[1 - i].fd, buffer, static_cast<std::size_t>(got));
      }
    }
    shutdown(a, SHUT_RDWR);
    shutdown(b, SHUT_RDWR);
  }
  static bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t written = ::write(fd, data, size);
      if (written <= 0) return false;
      data += written;
      size -= static_cast<std::size_t>(written);
    }
    return true;
  }

  int target_port_, port_ = 0, listener_ = -1;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  bool cut_ = false;
  std::vector<int> open_;  // closed when the proxy goes (a relay only shuts its sockets down)
  std::vector<std::thread> relays_;
  std::thread accepting_;
};

}  // namespace ftrun_test
