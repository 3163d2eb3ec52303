#include <ftsdk/params.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using Catch::Matchers::Contains;

namespace {

ft::ParamValue value(decltype(ft::ParamValue::data) data, int line) { return {std::move(data), {"exp.toml", line, 5}}; }

ft::Params sample() {
  ft::Params params("optimizer", {"exp.toml", 10, 1});
  params.set("lr", value(0.01, 11));
  params.set("steps", value(std::int64_t{3}, 12));
  params.set("name", value(std::string("fast"), 13));
  params.set("nesterov", value(true, 14));
  ft::ParamValue::Array betas{value(0.9, 15), value(0.999, 15)};
  params.set("betas", value(betas, 15));
  return params;
}

}  // namespace

TEST_CASE("the three strengths of access return typed values", "[params]") {
  const auto params = sample();
  CHECK(params.required<double>("lr") == 0.01);
  CHECK(params.get<double>("momentum", 0.5) == 0.5);
  CHECK_FALSE(params.optional<double>("momentum").has_value());
  CHECK(params.get<bool>("nesterov", false));
  CHECK(params.required<std::vector<double>>("betas") == std::vector<double>{0.9, 0.999});
  CHECK(params.required<std::string>("name") == "fast");
}

TEST_CASE("an integer is accepted where a number is asked for, not the reverse", "[params]") {
  const auto params = sample();
  CHECK(params.required<double>("steps") == 3.0);
  CHECK_THROWS_WITH(params.required<std::int64_t>("lr"),
                    "exp.toml:11:5: optimizer.lr: expected an integer, found a number");
}

TEST_CASE("a wrong type names the position, the key, both types and the text", "[params]") {
  ft::Params params("optimizer");
  params.set("lr", value(std::string("fast"), 7));
  CHECK_THROWS_AS(params.required<double>("lr"), ft::ConfigError);
  CHECK_THROWS_WITH(params.required<double>("lr"),
                    "exp.toml:7:5: optimizer.lr: expected a number, found a string (\"fast\")");
}

TEST_CASE("array elements are type-checked one by one", "[params]") {
  ft::Params params("dataset");
  params.set("classes", value(ft::ParamValue::Array{value(std::int64_t{1}, 3), value(std::string("x"), 3)}, 3));
  CHECK_THROWS_WITH(params.required<std::vector<std::int64_t>>("classes"),
                    Contains("expected an array of an integer values, found an array holding a string (\"x\")"));
  CHECK_THROWS_WITH(params.required<std::int64_t>("classes"), Contains("expected an integer, found an array"));
}

TEST_CASE("a missing required key names the section and its position", "[params]") {
  const auto params = sample();
  CHECK_THROWS_WITH(params.required<double>("momentum"), "exp.toml:10:1: [optimizer] needs the key 'momentum'");
}

TEST_CASE("reads are tracked so the core can report keys nobody read", "[params]") {
  const auto params = sample();
  params.required<double>("lr");
  params.get<bool>("nesterov", false);
  params.get<double>("absent", 1.0);
  CHECK(params.read_keys() == std::set<std::string>{"absent", "lr", "nesterov"});
  CHECK(params.contains("steps"));
  CHECK(params.read_keys().count("steps") == 0);
}

TEST_CASE("fail() reports a bad value at the key's position", "[params]") {
  const auto params = sample();
  CHECK_THROWS_WITH(params.fail("lr", "must be positive"), "exp.toml:11:5: optimizer.lr: must be positive");
}

TEST_CASE("get_finite and required_finite refuse inf at the key's position", "[params]") {
  auto params = sample();
  CHECK(params.required_finite("lr") == 0.01);
  CHECK(params.get_finite("momentum", 0.5) == 0.5);
  CHECK(params.required_finite("steps") == 3.0);
  params.set("lr", value(std::numeric_limits<double>::infinity(), 11));
  params.set("momentum", value(-std::numeric_limits<double>::infinity(), 16));
  CHECK_THROWS_WITH(params.required_finite("lr"), "exp.toml:11:5: optimizer.lr: must be a finite number, got inf");
  CHECK_THROWS_WITH(params.get_finite("momentum", 0.0),
                    "exp.toml:16:5: optimizer.momentum: must be a finite number, got -inf");
  CHECK(std::isinf(params.required<double>("lr")));  // the plain accessors still read what was written
}
