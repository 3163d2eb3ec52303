#include "config/config_tree.h"

#include "config/toml_depth.h"

#include <toml++/toml.h>

#include <cmath>
#include <sstream>

namespace ft {
namespace {

SourceLocation location_of(const toml::node& node, const std::string& fallback_file) {
  const auto& source = node.source();
  return {source.path ? *source.path : fallback_file, static_cast<int>(source.begin.line),
          static_cast<int>(source.begin.column)};
}

SourceLocation location_of_key(const toml::key& key, const std::string& fallback_file) {
  const auto& source = key.source();
  return {source.path ? *source.path : fallback_file, static_cast<int>(source.begin.line),
          static_cast<int>(source.begin.column)};
}

// Deeper nesting than any experiment needs; the conversion below recurses once per level, and a file with
// thousands of dotted parts would otherwise exhaust the stack.
constexpr int kMaxDepth = 32;

ParamValue to_value(const toml::node& node, const std::string& file, const std::string& key) {
  ParamValue value;
  value.where = location_of(node, file);
  if (auto b = node.value_exact<bool>()) {
    value.data = *b;
  } else if (auto i = node.value_exact<std::int64_t>()) {
    value.data = *i;
  } else if (auto d = node.value_exact<double>()) {
    // No ftrun key means anything by NaN; catching it here gives every key a position (inf stays allowed).
    if (std::isnan(*d)) throw ConfigError(value.where.str() + ": '" + key + "': nan is not a usable value");
    value.data = *d;
  } else if (auto s = node.value_exact<std::string>()) {
    value.data = *s;
  } else if (auto* array = node.as_array()) {
    ParamValue::Array elements;
    for (const auto& element : *array) {
      if (element.is_array() || element.is_table()) {
        throw ConfigError(location_of(element, file).str() + ": '" + key +
                          "': arrays may hold only strings, numbers and booleans");
      }
      elements.push_back(to_value(element, file, key));
    }
    value.data = std::move(elements);
  } else {
    throw ConfigError(value.where.str() + ": '" + key + "': dates and times are not supported as values");
  }
  return value;
}

ConfigTable to_tree(const toml::table& table, const std::string& file, int depth = 0) {
  ConfigTable out;
  out.where = location_of(table, file);
  if (depth > kMaxDepth) {
    throw ConfigError(out.where.str() + ": tables nested more than " + std::to_string(kMaxDepth) +
                      " levels deep; an experiment needs at most three ([stage] → [backbone] → values)");
  }
  for (const auto& [toml_key, node] : table) {
    const std::string key(toml_key.str());
    if (auto* sub = node.as_table()) {
      out.tables[key] = to_tree(*sub, file, depth + 1);
      if (out.tables[key].where.line == 0) out.tables[key].where = location_of(node, file);
    } else if (auto* array = node.as_array(); array && !array->empty() && array->is_array_of_tables()) {
      auto& items = out.table_arrays[key];
      for (const auto& element : *array) items.push_back(to_tree(*element.as_table(), file, depth + 1));
    } else {
      ParamValue value = to_value(node, file, key);
      // Messages point at the key ("epoch = 2" → col 1), which is where the user looks for a typo.
      if (toml_key.source().begin.line > 0) value.where = location_of_key(toml_key, file);
      out.values[key] = std::move(value);
    }
  }
  return out;
}

void insert_value(toml::table& table, const std::string& key, const ParamValue& value);

toml::array to_toml_array(const ParamValue::Array& elements) {
  toml::array array;
  for (const auto& element : elements) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (!std::is_same_v<T, ParamValue::Array>) array.push_back(x);
        },
        element.data);
  }
  return array;
}

void insert_value(toml::table& table, const std::string& key, const ParamValue& value) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, ParamValue::Array>) {
          table.insert_or_assign(key, to_toml_array(x));
        } else {
          table.insert_or_assign(key, x);
        }
      },
      value.data);
}

toml::table to_toml(const ConfigTable& tree) {
  toml::table table;
  for (const auto& [key, value] : tree.values) insert_value(table, key, value);
  for (const auto& [key, sub] : tree.tables) table.insert_or_assign(key, to_toml(sub));
  for (const auto& [key, items] : tree.table_arrays) {
    toml::array array;
    for (const auto& item : items) array.push_back(to_toml(item));
    table.insert_or_assign(key, std::move(array));
  }
  return table;
}

}  // namespace

std::vector<std::string> ConfigTable::keys() const {
  std::vector<std::string> out;
  for (const auto& entry : values) out.push_back(entry.first);
  for (const auto& entry : tables) out.push_back(entry.first);
  for (const auto& entry : table_arrays) out.push_back(entry.first);
  return out;
}

SourceLocation ConfigTable::where_of(const std::string& key) const {
  if (auto it = values.find(key); it != values.end()) return it->second.where;
  if (auto it = tables.find(key); it != tables.end()) return it->second.where;
  if (auto it = table_arrays.find(key); it != table_arrays.end() && !it->second.empty()) {
    return it->second.front().where;
  }
  return where;
}

ConfigTable parse_toml(const std::string& text, const std::string& source_name) {
  check_toml_depth(text, source_name);
  try {
    return to_tree(toml::parse(text, source_name), source_name);
  } catch (const toml::parse_error& error) {
    const auto& source = error.source();
    const SourceLocation where{source.path ? *source.path : source_name, static_cast<int>(source.begin.line),
                               static_cast<int>(source.begin.column)};
    throw ConfigError(where.str() + ": " + std::string(error.description()));
  }
}

void merge_into(ConfigTable& base, const ConfigTable& overlay) {
  for (const auto& [key, value] : overlay.values) {
    base.erase(key);
    base.values[key] = value;
  }
  for (const auto& [key, sub] : overlay.tables) {
    auto it = base.tables.find(key);
    if (it == base.tables.end()) {
      base.erase(key);
      base.tables[key] = sub;
    } else {
      merge_into(it->second, sub);
    }
  }
  for (const auto& [key, items] : overlay.table_arrays) {
    base.erase(key);
    base.table_arrays[key] = items;
  }
}

std::string to_toml_text(const ConfigTable& table) {
  std::ostringstream out;
  // Shortest round-trip floats (0.1, not 0.10000000000000001) and plain double-quoted strings, no indentation:
  // the text is stored with every run and read by people.
  out << toml::toml_formatter(
      to_toml(table), toml::format_flags::relaxed_float_precision | toml::format_flags::allow_multi_line_strings);
  return out.str();
}

std::string to_toml_value(const ParamValue& value) {
  ConfigTable table;
  table.values["v"] = value;
  std::string text = to_toml_text(table);
  text = text.substr(text.find('=') + 2);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

Params to_params(const ConfigTable& table, const std::string& section) {
  Params params(section, table.where);
  for (const auto& [key, value] : table.values) params.set(key, value);
  return params;
}

}  // namespace ft
