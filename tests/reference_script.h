#pragma once
// Runs one of the Python reference scripts of tests/reference/ (torchvision, transformers, pycocotools in the
// project's virtualenv) and requires it to succeed: the parity tests compare ftrun with what it writes.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

namespace ftrun_test {

/// `python tests/reference/<script> <arguments>`, required to exit 0.
inline void run_reference_script(const std::string& script, const std::string& arguments) {
  const std::string command = std::string(FT_PYTHON) + " " + FT_REFERENCE_DIR + "/" + script + " " + arguments;
  INFO(command);
  REQUIRE(std::system(command.c_str()) == 0);
}

}  // namespace ftrun_test
