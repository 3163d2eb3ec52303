// `ftrun serve` against a store made by real short runs: the JSON API, the pages' security headers, the token, the
// read-only rule, and the pages rendered by Debian's Chromium (headless), which runs their script.
#include "ftrun_cli.h"
#include "postgres_server.h"
#include "scoped_environment.h"
#include "temp_dir.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <regex>
#include <thread>

using Catch::Matchers::Contains;

namespace {

const std::string kHostileName = "<img src=x onerror=alert(1)><script>alert(2)</script>";

// `ftrun serve ARGS` in the background on a free port; the address it printed.
struct Server {
  pid_t pid = 0;
  int port = 0;
  std::string token, output;

  Server(const TempDir& dir, const std::string& args) {
    const std::string log = dir / "serve.log";
    std::fflush(nullptr);  // or the child would print what the parent had buffered
    pid = fork();
    if (pid == 0) {
      std::freopen(log.c_str(), "w", stdout);
      dup2(fileno(stdout), 2);
      execl("/bin/sh", "sh", "-c", ("exec " + kFtrun + " serve --port 0 " + args).c_str(), nullptr);
      _exit(127);
    }
    const std::regex address(R"(http://[^:]+:(\d+)/(\?token=([0-9a-f]+))?)");
    for (int i = 0; i < 200 && port == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream in(log);
      output.assign(std::istreambuf_iterator<char>(in), {});
      std::smatch match;
      if (std::regex_search(output, match, address)) {
        port = std::stoi(match[1]);
        token = match[3];
      }
    }
  }
  ~Server() { stop(); }
  // Ctrl-C; the exit status.
  int stop() {
    if (pid == 0) return -1;
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  httplib::Client client() const { return httplib::Client("127.0.0.1", port); }
};

// Two short runs, one of them named with HTML that would run if it were pasted into a page.
std::string make_store(const TempDir& dir) {
  const auto store = dir / "ftrun.db";
  const auto experiment = write(dir, "tiny.toml", kTiny);
  REQUIRE(run(experiment + " --store " + store).code == 0);
  REQUIRE(run(experiment + " --store " + store + " --set 'experiment.name=" + kHostileName +
              "' --set optimizer.lr=0.01 --set train.test=true")
              .code == 0);
  return store;
}

// The DOM of `path` once Chromium (headless) ran the page's script; --virtual-time-budget lets its fetches finish.
std::string rendered_by_chromium(const TempDir& dir, int port, const std::string& path) {
  return run_command(
             "timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir=" + (dir / "chromium") +
             " --virtual-time-budget=5000 --dump-dom 'http://127.0.0.1:" + std::to_string(port) + path +
             "' 2>/dev/null")
      .output;
}

}  // namespace

TEST_CASE("ftrun serve answers runs, one run and its curves as JSON and SVG, read-only", "[e2e][serve]") {
  TempDir dir;
  const auto store = make_store(dir);
  Server server(dir, "--store " + store);
  INFO(server.output);
  REQUIRE(server.port > 0);
  CHECK(server.token.empty());  // 127.0.0.1 needs none
  auto client = server.client();

  auto runs = client.Get("/api/runs");
  REQUIRE(runs);
  CHECK(runs->status == 200);
  const auto answer = nlohmann::json::parse(runs->body);
  REQUIRE(answer["runs"].size() == 2);
  CHECK(answer["runs"][0]["name"] == kHostileName);  // newest first, the name as it was written
  CHECK(answer["runs"][1]["params"]["optimizer.lr"] == 0.05);
  CHECK(answer["more"] == false);

  // ftrun runs' language, bound and never pasted into SQL; a mistake names its column.
  auto filtered = client.Get("/api/runs?where=optimizer.lr%20%3C%200.03");
  REQUIRE(filtered);
  CHECK(nlohmann::json::parse(filtered->body)["runs"].size() == 1);
  auto injected = client.Get("/api/runs?where=name%20%3D%20%27x%27%20or%201%3D1%3B%20DROP%20TABLE%20runs");
  REQUIRE(injected);
  CHECK(injected->status == 400);
  CHECK_THAT(injected->body, Contains("column"));
  // Columns chosen by the user: parameters and metric summaries, in the order asked.
  auto chosen = client.Get("/api/runs?columns=optimizer.lr,%20val_loss.min,%20train.patience");
  REQUIRE(chosen);
  const auto with_columns = nlohmann::json::parse(chosen->body);
  CHECK(with_columns["columns"] == nlohmann::json::array({"optimizer.lr", "val_loss.min", "train.patience"}));
  CHECK(with_columns["runs"][1]["columns"][0] == 0.05);
  CHECK(with_columns["runs"][1]["columns"][1].is_number());
  CHECK(client.Get("/api/runs?columns=val_loss.median")->status == 400);
  auto paged = client.Get("/api/runs?limit=1&offset=1");
  REQUIRE(paged);
  CHECK(nlohmann::json::parse(paged->body)["runs"][0]["id"] == 1);

  auto one = client.Get("/api/runs/1");
  REQUIRE(one);
  const auto run_json = nlohmann::json::parse(one->body);
  CHECK_THAT(run_json["config_toml"].get<std::string>(), Contains("samples_per_class = 30"));
  CHECK(run_json["epochs"].size() == 2);
  CHECK(run_json["plugins"].size() == 6);
  // Defaults marked: what tiny.toml wrote is not one; what ftrun and the plugins filled in is.
  const auto defaults = run_json["defaults"].get<std::vector<std::string>>();
  CHECK(std::count(defaults.begin(), defaults.end(), "optimizer.lr") == 0);
  CHECK(std::count(defaults.begin(), defaults.end(), "train.patience") == 1);
  CHECK(std::count(defaults.begin(), defaults.end(), "optimizer.weight_decay") == 1);
  CHECK_THAT(run_json["checkpoint"].get<std::string>(), Contains("run-1"));
  CHECK_FALSE(run_json["final"].contains("test_accuracy"));  // trained without a test split
  const auto tested = nlohmann::json::parse(client.Get("/api/runs/2")->body);
  CHECK(tested["final"]["test_accuracy"].is_number());
  auto epochs = client.Get("/api/runs/2/epochs");
  REQUIRE(epochs);
  CHECK(nlohmann::json::parse(epochs->body)["status"] == "completed");
  auto missing = client.Get("/api/runs/99");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  auto curves = client.Get("/api/runs/2/curves.svg");
  REQUIRE(curves);
  CHECK(curves->get_header_value("Content-Type") == "image/svg+xml");
  CHECK_THAT(curves->body, Contains("&lt;script&gt;") && !Contains("<script>"));
  auto learning_rate = client.Get("/api/runs/1/lr.svg");
  REQUIRE(learning_rate);
  CHECK(learning_rate->get_header_value("Content-Type") == "image/svg+xml");
  CHECK_THAT(learning_rate->body, Contains("Learning rate per step") && Contains(">backbone<") && Contains(">head<"));

  // Compare: runs grouped by a parameter, as `ftrun compare --json`; several runs' curves overlaid.
  auto comparison = client.Get("/api/compare?key=optimizer.lr");
  REQUIRE(comparison);
  const auto stages = nlohmann::json::parse(comparison->body);
  REQUIRE(stages.size() == 1);
  CHECK(stages[0]["values"].size() == 2);
  CHECK(stages[0]["metric"] == "accuracy");
  CHECK(client.Get("/api/compare.svg?key=optimizer.lr")->get_header_value("Content-Type") == "image/svg+xml");
  auto overlaid = client.Get("/api/curves.svg?runs=1,2");
  REQUIRE(overlaid);
  CHECK_THAT(overlaid->body, Contains("run 1: tiny") && Contains("run 2: &lt;img"));
  CHECK(client.Get("/api/curves.svg?runs=1,x")->status == 400);
  CHECK(client.Get("/api/curves.svg?runs=1,99")->status == 404);
  CHECK(client.Get("/api/compare")->status == 400);

  // Pages: static, one script from the server, a policy that forbids inline scripts and handlers.
  auto page = client.Get("/");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK_THAT(page->get_header_value("Content-Security-Policy"),
             Contains("script-src 'self'") && !Contains("unsafe-inline"));
  CHECK(page->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK_THAT(page->body, Contains("<script src=\"/static/app.js\" defer></script>") && !Contains("onclick"));
  CHECK(client.Get("/runs/2")->status == 200);
  CHECK(client.Get("/static/app.js")->status == 200);
  CHECK(client.Get("/static/../../../etc/passwd")->status == 404);
  CHECK(client.Get("/etc/passwd")->status == 404);

  // Read-only: no method but GET is answered, and the store is as it was.
  CHECK(client.Post("/api/runs", "x", "text/plain")->status == 405);
  CHECK(client.Delete("/api/runs/1")->status == 405);
  SQLite::Database db(store);
  CHECK(db.execAndGet("SELECT COUNT(*) FROM runs").getInt() == 2);

  const auto absent = run("serve --port 0 --store " + (dir / "absent.db"));
  CHECK(absent.code == 5);
  CHECK_THAT(absent.output, Contains("absent.db not found"));

  const auto start = std::chrono::steady_clock::now();
  CHECK(server.stop() == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));  // Ctrl-C stops it at once
}

TEST_CASE("ftrun serve on another address than loopback asks every request for its token", "[e2e][serve]") {
  TempDir dir;
  const auto store = make_store(dir);
  Server server(dir, "--store " + store + " --host 0.0.0.0");
  INFO(server.output);
  REQUIRE(server.port > 0);
  REQUIRE(server.token.size() == 32);  // generated and printed in the address
  auto client = server.client();
  CHECK(client.Get("/api/runs")->status == 401);
  CHECK(client.Get("/")->status == 401);
  CHECK(client.Get("/api/runs?token=0123456789abcdef0123456789abcdef")->status == 401);
  auto with_token = client.Get(("/?token=" + server.token).c_str());
  REQUIRE(with_token);
  CHECK(with_token->status == 200);
  // The page's script, style sheet and API calls carry no token: the cookie set here stands for it.
  CHECK_THAT(with_token->get_header_value("Set-Cookie"),
             Contains("ftrun_token=" + server.token) && Contains("HttpOnly") && Contains("SameSite=Strict"));
  CHECK(client.Get("/static/app.js", {{"Cookie", "ftrun_token=" + server.token}})->status == 200);
  CHECK(client.Get("/api/runs", {{"Authorization", "Bearer " + server.token}})->status == 200);
}

TEST_CASE("the pages, rendered by Chromium, show the runs as text and follow a running run", "[e2e][serve][browser]") {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) {
    WARN("not run: Debian's chromium is not installed (scripts/setup installs it)");
    return;
  }
  TempDir dir;
  const auto store = make_store(dir);
  Server server(dir, "--store " + store);
  INFO(server.output);
  REQUIRE(server.port > 0);
  auto rendered = [&](const std::string& path) { return rendered_by_chromium(dir, server.port, path); };
  const std::string runs = rendered("/");
  // Both rows, the hostile name as text: had it been parsed, the <img> and <script> would be elements.
  CHECK_THAT(runs, Contains("data-run=\"1\"") && Contains("data-run=\"2\""));
  CHECK_THAT(runs, Contains("&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
  CHECK_THAT(runs, !Contains("<img src=\"x\""));
  CHECK_THAT(runs, Contains("<span class=\"status completed\">completed</span>"));
  const std::string compared = rendered("/compare?key=optimizer.lr&runs=1,2");
  CHECK_THAT(compared, Contains("data-value=\"0.05\"") && Contains("data-value=\"0.01\""));
  CHECK_THAT(compared, Contains("api/curves.svg?runs=1,2"));
  const std::string one = rendered("/runs/1");
  CHECK_THAT(one, Contains("data-epoch=\"2\"") && Contains("curves.svg?epochs=2") && Contains("lr.svg?epochs=2"));
  CHECK_THAT(one, Contains("ft_sgd.so"));

  // A run that trains while the page is open: the API answers every new epoch at once (the page asks every 1.5 s).
  const auto experiment = write(dir, "long.toml", long_tiny(30, 300));
  std::fflush(nullptr);
  const pid_t training = fork();
  if (training == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    execl(kFtrun.c_str(), kFtrun.c_str(), experiment.c_str(), "--store", store.c_str(), nullptr);
    _exit(127);
  }
  REQUIRE(wait_until(store, "SELECT COUNT(*) FROM epoch_metrics WHERE run_id = 3 AND epoch >= 2"));
  auto client = server.client();
  auto count = [&] { return nlohmann::json::parse(client.Get("/api/runs/3/epochs")->body)["epochs"].size(); };
  const auto before = count();
  REQUIRE(wait_until(store,
                     "SELECT COUNT(*) FROM epoch_metrics WHERE run_id = 3 AND epoch >= " + std::to_string(before + 1)));
  CHECK(count() > before);
  CHECK_THAT(rendered("/runs/3"), Contains("<span class=\"status running\">running</span>"));
  kill(training, SIGINT);
  int status = 0;
  waitpid(training, &status, 0);
}

TEST_CASE("ftrun serve shows a sweep's trials and the overfitting report, in the API and in Chromium",
          "[e2e][serve][browser]") {
  TempDir dir;
  const auto store = dir / "ftrun.db";
  const auto experiment = write(dir, "sweep.toml", kTiny + R"(
[sweep]
method = "grid"
metric = "val_loss"
[sweep.params]
"optimizer.lr" = [0.01, 0.05]
)");
  REQUIRE(run("sweep " + experiment + " --store " + store).code == 0);
  Server server(dir, "--store " + store);
  INFO(server.output);
  REQUIRE(server.port > 0);
  auto client = server.client();
  const auto sweeps = nlohmann::json::parse(client.Get("/api/sweeps")->body);
  REQUIRE(sweeps.size() == 1);
  CHECK(sweeps[0]["trials"]["completed"] == 2);
  CHECK(sweeps[0]["direction"] == "min");
  const auto sweep = nlohmann::json::parse(client.Get("/api/sweeps/1")->body);
  CHECK(sweep["keys"] == nlohmann::json::array({"optimizer.lr"}));
  REQUIRE(sweep["trials"].size() == 2);
  CHECK(sweep["trials"][0]["values"]["optimizer.lr"] == "0.01");
  CHECK(sweep["trials"][1]["best_so_far"].get<double>() <= sweep["trials"][0]["best_so_far"].get<double>());
  CHECK(client.Get("/api/sweeps/7")->status == 404);
  CHECK(client.Get("/api/compare.svg?key=optimizer.lr&sweep=1")->status == 200);
  // The sweep's charts draw its own objective (val_loss, lower is better), not the runs' primary metric.
  auto chart = client.Get("/api/sweeps/1/chart.svg?key=optimizer.lr");
  REQUIRE(chart);
  CHECK(chart->get_header_value("Content-Type") == "image/svg+xml");
  CHECK_THAT(chart->body, Contains("Lowest val_loss of each trial by optimizer.lr") && Contains("the best trial"));
  CHECK(client.Get("/api/sweeps/1/chart.svg")->status == 400);
  CHECK(client.Get("/api/sweeps/9/chart.svg?key=optimizer.lr")->status == 404);
  const auto report = nlohmann::json::parse(client.Get("/api/overfit")->body);
  CHECK(report["runs"].size() == 2);
  CHECK_THAT(report["rule"].get<std::string>(), Contains("overfitting onset"));
  CHECK(client.Get("/api/overfit?where=nonsense%20%3C")->status == 400);

  if (std::system("command -v chromium >/dev/null 2>&1") != 0) {
    WARN("pages not rendered: Debian's chromium is not installed (scripts/setup installs it)");
    return;
  }
  auto rendered = [&](const std::string& path) { return rendered_by_chromium(dir, server.port, path); };
  CHECK_THAT(rendered("/sweeps"), Contains("data-sweep=\"1\""));
  const std::string trials = rendered("/sweeps/1");
  CHECK_THAT(trials, Contains("data-trial=\"0\"") && Contains("data-trial=\"1\"") && Contains("optimizer.lr = 0.05"));
  CHECK_THAT(trials, Contains("data-key=\"optimizer.lr\""));
  const std::string overfitting = rendered("/overfit");
  CHECK_THAT(overfitting, Contains("data-run=\"1\"") && Contains("data-run=\"2\"") && Contains("class=\"thumbnail\""));
}

TEST_CASE("ftrun serve on a PostgreSQL store answers as on SQLite, and Chromium renders its pages",
          "[e2e][serve][browser][pg]") {
  ftrun_test::TestServer database;
  if (database.unavailable()) return;
  TempDir dir;
  ScopedEnvironment passfile("PGPASSFILE", dir / "none");  // the password from PGPASSWORD, as a user's would be
  const std::string url = database.url();
  const auto experiment = write(dir, "tiny.toml", kTiny);
  REQUIRE(run(experiment + " --store " + url).code == 0);
  REQUIRE(run(experiment + " --store " + url + " --set 'experiment.name=" + kHostileName +
              "' --set optimizer.lr=0.01 --set train.test=true")
              .code == 0);
  const auto sweep_file = write(dir, "sweep.toml",
                                kTiny +
                                    "\n[sweep]\nmethod = \"grid\"\nmetric = \"val_loss\"\n"
                                    "[sweep.params]\n\"optimizer.lr\" = [0.02, 0.03]\n");
  REQUIRE(run("sweep " + sweep_file + " --store " + url).code == 0);  // runs 3 and 4
  Server server(dir, "--store " + url);
  INFO(server.output);
  REQUIRE(server.port > 0);
  auto client = server.client();

  const auto runs = nlohmann::json::parse(client.Get("/api/runs")->body);
  REQUIRE(runs["runs"].size() == 4);
  CHECK(runs["runs"][2]["name"] == kHostileName);
  CHECK(runs["runs"][3]["params"]["optimizer.lr"] == 0.05);  // a number, as SQLite gives it, though stored as TEXT
  const auto filtered = nlohmann::json::parse(client.Get("/api/runs?where=optimizer.lr%20%3C%200.025")->body);
  CHECK(filtered["runs"].size() == 2);  // 0.01 and 0.02, compared as numbers
  CHECK(nlohmann::json::parse(client.Get("/api/runs/1/epochs")->body)["epochs"].size() == 2);
  const auto sweeps = nlohmann::json::parse(client.Get("/api/sweeps")->body);
  REQUIRE(sweeps.size() == 1);
  CHECK(sweeps[0]["trials"]["completed"] == 2);
  CHECK(nlohmann::json::parse(client.Get("/api/overfit")->body)["runs"].size() == 4);
  CHECK(client.Get("/api/compare.svg?key=optimizer.lr&sweep=1")->status == 200);

  if (std::system("command -v chromium >/dev/null 2>&1") != 0) {
    WARN("pages not rendered: Debian's chromium is not installed (scripts/setup installs it)");
    return;
  }
  auto rendered = [&](const std::string& path) { return rendered_by_chromium(dir, server.port, path); };
  const std::string page = rendered("/");
  CHECK_THAT(page, Contains("data-run=\"1\"") && Contains("data-run=\"4\""));
  CHECK_THAT(page, Contains("&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
  CHECK_THAT(rendered("/runs/1"), Contains("data-epoch=\"2\"") && Contains("curves.svg?epochs=2"));
  CHECK_THAT(rendered("/sweeps/1"), Contains("data-trial=\"0\"") && Contains("data-trial=\"1\""));
  CHECK_THAT(rendered("/compare?key=optimizer.lr&runs=1,2"),
             Contains("data-value=\"0.05\"") && Contains("data-value=\"0.01\""));
}
