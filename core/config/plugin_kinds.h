#pragma once
// The plugin kinds of ftsdk/kind_list.h as data, for code that needs their names without their interfaces (the
// experiment loader, `ftrun plugins`, the docs).

#include <string>
#include <vector>

namespace ft {

struct PluginKind {
  std::string name;
  /// An experiment lists several, as `[[name]]` tables applied in order (regularizations).
  bool many = false;
  /// One per sweep, not part of an experiment's runs: the sampler, named by `[sweep] method`.
  bool per_sweep = false;
  /// The type used when the section is absent; empty when the section is required.
  std::string default_type;
};

/// Every kind, in the SDK's order.
const std::vector<PluginKind>& plugin_kinds();

/// The kind called `name`, or nullptr.
const PluginKind* find_plugin_kind(const std::string& name);

}  // namespace ft
