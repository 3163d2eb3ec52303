#pragma once
// An experiment file as a tree that keeps every value's source position through stage merges and --set
// overrides (toml++ drops positions when nodes are copied, so merging happens here rather than on toml::table).

#include <ftsdk/params.h>

#include <map>
#include <string>
#include <vector>

namespace ft {

struct ConfigTable {
  SourceLocation where;
  std::map<std::string, ParamValue> values;
  std::map<std::string, ConfigTable> tables;
  std::map<std::string, std::vector<ConfigTable>> table_arrays;

  bool has(const std::string& key) const { return values.count(key) || tables.count(key) || table_arrays.count(key); }
  std::vector<std::string> keys() const;
  /// Location of `key` (its value, or its table), or of this table when absent.
  SourceLocation where_of(const std::string& key) const;
  void erase(const std::string& key) {
    values.erase(key);
    tables.erase(key);
    table_arrays.erase(key);
  }
};

/// Parses TOML text; syntax errors become ConfigError("file:line:col: ...").
ConfigTable parse_toml(const std::string& text, const std::string& source_name);

/// Copies `overlay` onto `base`: values and arrays replace, tables merge recursively.
void merge_into(ConfigTable& base, const ConfigTable& overlay);

/// TOML text of `table`, for storing and printing.
std::string to_toml_text(const ConfigTable& table);

/// TOML text of one value (`0.01`, `"sgd"`, `[ 1, 2 ]`), as `to_toml_text` writes it.
std::string to_toml_value(const ParamValue& value);

/// Applies one `--set key=value` (`optimizer.lr=0.01`, `stage.NAME.train.epochs=3`, `sweep.trials=50`) to a parsed
/// experiment; ConfigError naming the assignment when it is malformed or addresses nothing. A sweep parameter is
/// one key however many dots it has: `sweep.params.optimizer.lr=[0.01, 0.1]` replaces the list of `optimizer.lr`.
void apply_override(ConfigTable& root, const std::string& assignment);

/// Params holding the values of `table` (sub-tables are not values and are left out).
Params to_params(const ConfigTable& table, const std::string& section);

}  // namespace ft
