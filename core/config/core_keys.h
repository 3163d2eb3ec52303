#pragma once
// Every key the core itself reads from an experiment file, defined once: its section, name, type, default and
// meaning. Reading and validation, the resolved TOML stored with each run (so every effective value reaches
// run_params, defaults included), `ftrun keys` and the reference table in docs/experiments.md all come from
// this one table.

#include "config/experiment.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ft {

struct CoreKey {
  std::string section;  // "train", or "experiment", "backbone", "dataset", "schedule"
  std::string name;
  std::string type;          // as the docs say it: "integer", "number", "boolean", "string", "array of strings"
  std::string default_text;  // TOML text of the default, or "required" / "none"
  std::string doc;
  /// Whether the key exists for this run (schedule parameters belong to one schedule type); empty = always.
  std::function<bool(const RunConfig&)> applies;
  /// Reads the key from its section into `run`, whose current value is the default, and checks the value
  /// (throwing ConfigError at the key's position).
  std::function<void(const Params&, RunConfig&)> read;
  /// The run's effective value, or nothing when the key does not describe the run (the store's path).
  std::function<std::optional<ParamValue>(const RunConfig&)> value;
};

/// The table, in reading order (a schedule's type before its parameters).
const std::vector<CoreKey>& core_keys();

/// The sections the table covers, in order.
const std::vector<std::string>& core_key_sections();

/// The reference table as Markdown, as in docs/experiments.md (printed by `ftrun keys`).
std::string core_keys_markdown();

}  // namespace ft
