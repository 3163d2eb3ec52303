#pragma once
/// @file
/// Typed, position-aware access to a plugin's parameters, so plugins never see the TOML library.

#include <ftsdk/error.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace ft {

/// Where a value came from: `file:line:col`, or a description such as `--set optimizer.lr=0.1`.
struct SourceLocation {
  /// The experiment file or the command-line option.
  std::string file;
  /// 1-based line; 0 when unknown.
  int line = 0;
  /// 1-based column; 0 when unknown.
  int column = 0;

  /// `file:line:col`, or just `file` when the position is unknown.
  std::string str() const {
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

/// One parameter value: a scalar or a flat array of scalars, as written in the experiment file.
struct ParamValue {
  using Array = std::vector<ParamValue>;
  std::variant<bool, std::int64_t, double, std::string, Array> data;
  SourceLocation where;

  /// Name of the held type as a user would say it ("a boolean", "an integer", ...).
  std::string type_name() const {
    static const char* names[] = {"a boolean", "an integer", "a number", "a string", "an array"};
    return names[data.index()];
  }

  /// The type name, with the text of a string value: `a string ("fast")`.
  std::string describe() const {
    if (auto* text = std::get_if<std::string>(&data)) return type_name() + " (\"" + *text + "\")";
    return type_name();
  }
};

/// `value` as a ParamValue (without a position): integers widen to int64, floating point to double.
template <class T>
ParamValue to_param_value(const T& value) {
  ParamValue out;
  if constexpr (std::is_same_v<T, bool>)
    out.data = value;
  else if constexpr (std::is_integral_v<T>)
    out.data = static_cast<std::int64_t>(value);
  else if constexpr (std::is_floating_point_v<T>)
    out.data = static_cast<double>(value);
  else if constexpr (std::is_convertible_v<T, std::string>)
    out.data = std::string(value);
  else {
    ParamValue::Array array;
    for (const auto& element : value) array.push_back(to_param_value(element));
    out.data = std::move(array);
  }
  return out;
}

/// The parameters of one component (a `[backbone]`, `[optimizer]`, ... section, without the keys the core
/// itself uses). Three strengths of access, as in toml++: `optional<T>` (absent is fine), `get<T>(key, default)`
/// and `required<T>`. Every access checks the type exactly, except that an integer is accepted where a number
/// (double) is asked for; a mismatch throws `ConfigError` naming the file position, the key, and both types.
/// Supported T: bool, std::int64_t, int, double, std::string, and std::vector of those.
///
/// Example:
///   double lr = params.required<double>("lr");
///   double momentum = params.get<double>("momentum", 0.0);
///   auto classes = params.optional<std::vector<std::int64_t>>("classes");
///
/// The core reports keys that the component never read as unknown, with the nearest key it did read, and records
/// every default `get` returned with the run, so the store says exactly what ran and a resumed run keeps it.
class Params {
 public:
  /// `section` names the table in messages, e.g. "optimizer".
  explicit Params(std::string section = {}, SourceLocation where = {})
      : section_(std::move(section)), where_(std::move(where)) {}

  /// Sets `key` (used by the core when reading the experiment, and by tests).
  void set(const std::string& key, ParamValue value) { values_[key] = std::move(value); }

  /// True when `key` is present. Does not count as reading it.
  bool contains(const std::string& key) const { return values_.count(key) != 0; }

  /// The value of `key`, or nothing when absent.
  template <class T>
  std::optional<T> optional(const std::string& key) const {
    read_.insert(key);
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return convert<T>(key, it->second);
  }

  /// The value of `key`, or `fallback` when absent (the fallback is then recorded, see `defaults_used`).
  template <class T>
  T get(const std::string& key, T fallback) const {
    auto value = optional<T>(key);
    if (value) return *value;
    defaults_[key] = to_param_value(fallback);
    return fallback;
  }

  /// The value of `key`; throws `ConfigError` when absent.
  template <class T>
  T required(const std::string& key) const {
    auto value = optional<T>(key);
    if (!value) {
      throw ConfigError(where_.str() + ": [" + section_ + "] needs the key '" + key + "'");
    }
    return *value;
  }

  /// The number `key` as `get<double>` reads it, refused at its position unless finite: for learning rates,
  /// decays, momenta, probabilities and every other hyperparameter where `inf` means nothing (TOML allows it).
  ///
  /// Example:
  ///   const double momentum = params.get_finite("momentum", 0.0);
  double get_finite(const std::string& key, double fallback) const { return finite(key, get<double>(key, fallback)); }

  /// The number `key` as `required<double>` reads it, refused at its position unless finite.
  double required_finite(const std::string& key) const { return finite(key, required<double>(key)); }

  /// Throws `ConfigError` for `key` at its position; for values that have the right type but a bad value.
  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    auto it = values_.find(key);
    const SourceLocation& where = it == values_.end() ? where_ : it->second.where;
    throw ConfigError(where.str() + ": " + qualified(key) + ": " + message);
  }

  /// Every key present.
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& entry : values_) out.push_back(entry.first);
    return out;
  }
  /// Keys asked for so far, present or not: the keys this component understands.
  const std::set<std::string>& read_keys() const { return read_; }
  /// The defaults `get` returned for absent keys, by key: the values the component used without being told.
  const std::map<std::string, ParamValue>& defaults_used() const { return defaults_; }
  /// The raw value of `key` (nullptr when absent); does not count as reading it.
  const ParamValue* find(const std::string& key) const {
    auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
  }
  /// The section name given at construction.
  const std::string& section() const { return section_; }
  /// Where the section starts.
  const SourceLocation& where() const { return where_; }

 private:
  template <class T>
  struct IsVector : std::false_type {};
  template <class U>
  struct IsVector<std::vector<U>> : std::true_type {
    using Element = U;
  };

  double finite(const std::string& key, double value) const {
    if (!std::isfinite(value)) {
      fail(key, std::string("must be a finite number, got ") + (std::isnan(value) ? "nan"
                                                                : value > 0       ? "inf"
                                                                                  : "-inf"));
    }
    return value;
  }

  std::string qualified(const std::string& key) const { return section_.empty() ? key : section_ + "." + key; }

  template <class T>
  static const char* wanted_name() {
    if constexpr (std::is_same_v<T, bool>)
      return "a boolean";
    else if constexpr (std::is_integral_v<T>)
      return "an integer";
    else if constexpr (std::is_floating_point_v<T>)
      return "a number";
    else if constexpr (std::is_same_v<T, std::string>)
      return "a string";
    else
      return "an array";
  }

  template <class T>
  static std::optional<T> scalar(const ParamValue& value) {
    if constexpr (std::is_same_v<T, bool>) {
      if (auto* b = std::get_if<bool>(&value.data)) return *b;
    } else if constexpr (std::is_integral_v<T>) {
      if (auto* i = std::get_if<std::int64_t>(&value.data)) return static_cast<T>(*i);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (auto* d = std::get_if<double>(&value.data)) return static_cast<T>(*d);
      if (auto* i = std::get_if<std::int64_t>(&value.data)) return static_cast<T>(*i);
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (auto* s = std::get_if<std::string>(&value.data)) return *s;
    }
    return std::nullopt;
  }

  template <class T>
  T convert(const std::string& key, const ParamValue& value) const {
    if constexpr (IsVector<T>::value) {
      using Element = typename IsVector<T>::Element;
      auto* array = std::get_if<ParamValue::Array>(&value.data);
      const std::string wanted = std::string("an array of ") + wanted_name<Element>() + " values";
      if (!array) mismatch(key, value.where, wanted, value.describe());
      T out;
      for (const auto& element : *array) {
        auto converted = scalar<Element>(element);
        if (!converted) mismatch(key, element.where, wanted, "an array holding " + element.describe());
        out.push_back(*converted);
      }
      return out;
    } else {
      auto converted = scalar<T>(value);
      if (!converted) mismatch(key, value.where, wanted_name<T>(), value.describe());
      return *converted;
    }
  }

  [[noreturn]] void mismatch(const std::string& key, const SourceLocation& where, const std::string& wanted,
                             const std::string& found) const {
    throw ConfigError(where.str() + ": " + qualified(key) + ": expected " + wanted + ", found " + found);
  }

  std::string section_;
  SourceLocation where_;
  std::map<std::string, ParamValue> values_;
  mutable std::set<std::string> read_;
  mutable std::map<std::string, ParamValue> defaults_;
};

}  // namespace ft
