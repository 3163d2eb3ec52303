// The .safetensors header checks: every way a damaged or hostile header could mislead the reader.
#include "model/safetensors_header.h"

#include <ftsdk/error.h>

#include <catch2/catch.hpp>

using Catch::Matchers::Contains;

namespace {

std::string error_of(const std::string& header, std::uint64_t data_size = 64) {
  try {
    ft::parse_safetensors_header(header, data_size, "w.safetensors");
  } catch (const ft::DataError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("a well-formed header gives its tensors sorted by offset", "[safetensors]") {
  const auto entries = ft::parse_safetensors_header(
      R"({"__metadata__": {"format": "pt"}, "b": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]},
          "a": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}})",
      24, "w.safetensors");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].name == "a");
  CHECK(entries[1].shape == std::vector<std::int64_t>{2, 2});
}

TEST_CASE("hostile shapes and offsets are refused with the tensor's name", "[safetensors]") {
  CHECK_THAT(error_of(R"({"t": {"dtype": "F32", "shape": [-1, 4], "data_offsets": [0, 16]}})"),
             Contains("tensor t: its shape [-1,4] has a dimension that is not a non-negative integer"));
  CHECK_THAT(error_of(R"({"t": {"dtype": "F32", "shape": [4611686018427387904, 8], "data_offsets": [0, 0]}})"),
             Contains("larger than any file can hold"));
  CHECK_THAT(error_of(R"({"t": {"dtype": "U8", "shape": [4], "data_offsets": [0.5, 4.5]}})"),
             Contains("data_offsets must be two non-negative integers"));
  CHECK_THAT(error_of(R"({"t": {"dtype": "U8", "shape": [4], "data_offsets": [0, 5]}})"),
             Contains("do not hold its 4 bytes"));
  CHECK_THAT(error_of(R"({"t": {"dtype": "U8", "shape": [4], "data_offsets": [62, 66]}})"),
             Contains("inside the 64 bytes of data"));
  CHECK_THAT(error_of(R"({"a": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]},
                          "b": {"dtype": "U8", "shape": [8], "data_offsets": [4, 12]}})"),
             Contains("tensors a and b share bytes"));
  CHECK_THAT(error_of(R"({"t": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}})"),
             Contains("unsupported dtype C64"));
  CHECK_THAT(error_of(R"([1, 2])"), Contains("not a JSON object"));
  CHECK_THAT(error_of(R"({"t": 3})"), Contains("expected {dtype, shape, data_offsets}"));
}

TEST_CASE("names from the file cannot reach the terminal raw", "[safetensors]") {
  const std::string message =
      error_of("{\"\\u001b[31mred\\n[error] forged\": {\"dtype\": \"X\", \"shape\": [], \"data_offsets\": [0, 0]}}");
  CHECK_THAT(message, Contains("\\x1b[31mred\\x0a[error] forged"));
  CHECK(message.find('\x1b') == std::string::npos);
  CHECK(message.find('\n') == std::string::npos);
}
