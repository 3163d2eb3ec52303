// Experiment files and --set overrides: the input is TOML text, optionally followed by a line "%%" and one
// override (KEY=VALUE) per line. A file with a [sweep] table is also read as a sweep, trials and all.
#include "config/experiment.h"
#include "config/sweep.h"

#include <ftsdk/error.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string text = input;
  std::vector<std::string> overrides;
  if (const auto split = input.find("\n%%\n"); split != std::string::npos) {
    text = input.substr(0, split);
    std::istringstream lines(input.substr(split + 4));
    for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  }
  try {
    if (ft::parse_experiment(text, "fuzz.toml", overrides).has_sweep) ft::parse_sweep(text, "fuzz.toml", overrides);
  } catch (const ft::ConfigError&) {
  }
  return 0;
}
