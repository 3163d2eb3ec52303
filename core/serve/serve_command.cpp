#include "serve/serve_command.h"

#include "cli/commands.h"
#include "log/log.h"
#include "serve/api.h"
#include "serve/assets.h"
#include "store/postgres_connection.h"
#include "store/results_store.h"
#include "training/signals.h"

#include <ftsdk/error.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

namespace fs = std::filesystem;

namespace ft {
namespace {

// Scripts and styles from this server only, no inline script or handler, no frames, no other origin.
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string random_token() {
  std::random_device device;
  std::string token;
  const char* digits = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) token += digits[device() % 16];
  return token;
}

// Compared in time independent of where the first difference is.
bool same_secret(const std::string& given, const std::string& expected) {
  if (given.size() != expected.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < given.size(); ++i) difference |= static_cast<unsigned char>(given[i] ^ expected[i]);
  return difference == 0;
}

// The token of a request: `?token=` (the address printed), `Authorization: Bearer`, or the cookie set by the first
// page, which the browser then sends with the page's script, style sheet, images and API calls (as Jupyter does).
bool token_given(const httplib::Request& request, const std::string& token) {
  if (request.has_param("token") && same_secret(request.get_param_value("token"), token)) return true;
  const std::string header = request.get_header_value("Authorization");
  if (header.rfind("Bearer ", 0) == 0 && same_secret(header.substr(7), token)) return true;
  const std::string cookies = "; " + request.get_header_value("Cookie");
  const auto at = cookies.find("; ftrun_token=");
  if (at == std::string::npos) return false;
  const auto start = at + 14;
  return same_secret(cookies.substr(start, cookies.find(';', start) - start), token);
}

std::int64_t integer_param(const httplib::Request& request, const char* name, std::int64_t fallback) {
  if (!request.has_param(name)) return fallback;
  try {
    return std::stoll(request.get_param_value(name));
  } catch (const std::exception&) {
    return fallback;
  }
}

}  // namespace

int command_serve(const ServeOptions& options) {
  const std::string path = resolve_store_path(options.store, "");
  std::error_code error;
  if (!is_postgres_url(path) && !fs::is_regular_file(path, error)) {
    throw StoreError("results store " + path +
                     " not found: run an experiment first, or name the store with --store (ftrun serve only reads)");
  }
  if (options.port < 0 || options.port > 65535) throw ConfigError("--port must be between 0 and 65535");
  ResultsStore store(path, store_options_from_environment());
  std::string token = options.token;
  if (!is_loopback(options.host) && token.empty()) token = random_token();

  // One connection serves every request, one at a time: the store's statements are not shared between threads,
  // and each request's reads end before it answers, so no transaction stays open to hold back a writer.
  std::mutex store_mutex;
  httplib::Server server;
  server.set_default_headers({{"Content-Security-Policy", kContentSecurityPolicy},
                              {"X-Content-Type-Options", "nosniff"},
                              {"Referrer-Policy", "no-referrer"},
                              {"Cache-Control", "no-store"}});
  server.set_pre_routing_handler([&](const httplib::Request& request, httplib::Response& response) {
    if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.set_content("ftrun serve is read-only: GET only\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!token.empty() && !token_given(request, token)) {
      response.status = 401;
      response.set_content("a token is needed: open the address ftrun serve printed (?token=...)\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!token.empty() && request.has_param("token")) {
      response.set_header("Set-Cookie", "ftrun_token=" + token + "; Path=/; HttpOnly; SameSite=Strict");
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto serve_text = [&server](const char* pattern, const std::string& text, const char* type) {
    server.Get(pattern, [text, type](const httplib::Request&, httplib::Response& response) {
      response.set_content(text, type);
    });
  };
  serve_text("/", kRunsPage, "text/html; charset=utf-8");
  serve_text(R"(/runs/\d{1,18})", kRunPage, "text/html; charset=utf-8");
  serve_text("/compare", kComparePage, "text/html; charset=utf-8");
  serve_text("/overfit", kOverfitPage, "text/html; charset=utf-8");
  serve_text("/sweeps", kSweepsPage, "text/html; charset=utf-8");
  serve_text(R"(/sweeps/\d{1,18})", kSweepPage, "text/html; charset=utf-8");
  serve_text("/static/app.js", kAppScript, "text/javascript; charset=utf-8");
  serve_text("/static/style.css", kStyleSheet, "text/css; charset=utf-8");
  auto serve_api = [&](const char* pattern, std::function<ApiAnswer(const httplib::Request&)> make) {
    server.Get(pattern, [&store_mutex, make](const httplib::Request& request, httplib::Response& response) {
      ApiAnswer answer;
      try {
        const std::lock_guard<std::mutex> lock(store_mutex);
        answer = make(request);
      } catch (const std::exception& e) {
        answer = {503, nlohmann::json{{"error", e.what()}}.dump(), "application/json"};
      }
      response.status = answer.status;
      response.set_content(answer.body, answer.content_type);
    });
  };
  auto id_of = [](const httplib::Request& request) { return std::stoll(request.matches[1].str()); };
  serve_api("/api/runs", [&](const httplib::Request& request) {
    return runs_answer(store, {request.get_param_value("where"), request.get_param_value("order_by"),
                               request.get_param_value("columns"), integer_param(request, "limit", 50),
                               integer_param(request, "offset", 0)});
  });
  serve_api(R"(/api/runs/(\d{1,18}))",
            [&](const httplib::Request& request) { return run_answer(store, id_of(request)); });
  serve_api(R"(/api/runs/(\d{1,18})/epochs)",
            [&](const httplib::Request& request) { return epochs_answer(store, id_of(request)); });
  serve_api(R"(/api/runs/(\d{1,18})/lr\.svg)",
            [&](const httplib::Request& request) { return learning_rate_answer(store, id_of(request)); });
  serve_api("/api/curves.svg", [&](const httplib::Request& request) {
    return runs_curves_answer(store, request.get_param_value("runs"));
  });
  serve_api("/api/compare", [&](const httplib::Request& request) {
    return comparison_answer(store, request.get_param_value("key"), request.get_param_value("name"),
                             request.get_param_value("stage"), request.get_param_value("sweep"));
  });
  serve_api("/api/compare.svg", [&](const httplib::Request& request) {
    return comparison_chart_answer(store, request.get_param_value("key"), request.get_param_value("name"),
                                   request.get_param_value("stage"), request.get_param_value("sweep"));
  });
  serve_api("/api/overfit", [&](const httplib::Request& request) {
    return overfit_answer(store, request.get_param_value("where"), request.get_param_value("name"));
  });
  serve_api("/api/sweeps", [&](const httplib::Request&) { return sweeps_answer(store); });
  serve_api(R"(/api/sweeps/(\d{1,18}))",
            [&](const httplib::Request& request) { return sweep_answer(store, id_of(request)); });
  serve_api(R"(/api/sweeps/(\d{1,18})/chart\.svg)", [&](const httplib::Request& request) {
    return sweep_chart_answer(store, id_of(request), request.get_param_value("key"));
  });
  serve_api(R"(/api/runs/(\d{1,18})/curves\.svg)",
            [&](const httplib::Request& request) { return curves_answer(store, id_of(request)); });

  const int port = options.port == 0 ? server.bind_to_any_port(options.host) : options.port;
  if (port < 0 || (options.port != 0 && !server.bind_to_port(options.host, options.port))) {
    throw ConfigError("ftrun serve: cannot listen on " + options.host + ":" + std::to_string(options.port) +
                      " (in use, or not an address of this machine? choose another with --port or --host)");
  }
  const std::string shown_host = options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  std::printf("ftrun serve: http://%s:%d/%s  (store %s; read-only; Ctrl-C stops)\n", shown_host.c_str(), port,
              token.empty() ? "" : ("?token=" + token).c_str(), path.c_str());
  std::fflush(stdout);

  install_stop_handlers();
  std::thread listener([&server] { server.listen_after_bind(); });
  while (!stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.stop();
  listener.join();
  log::info("ftrun serve: stopped by " + stop_signal_name());
  return kExitOk;
}

}  // namespace ft
