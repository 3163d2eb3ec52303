#pragma once
// The plugin kinds of ftsdk/kind_list.h as data, for code that needs their names without their interfaces (the
// experiment loader, `ftrun plugins`, the docs).

#include <string>
#include <vector>

namespace ft {

/// Where a kind's components are named (the Count of ftsdk/kind_list.h).
enum class KindCount {
  one,    ///< one `[name]` table per run
  many,   ///< `[[name]]` tables, applied in order (regularizations)
  sweep,  ///< one per sweep, not part of its runs: the sampler, named by `[sweep] method`
};

struct PluginKind {
  std::string name;
  KindCount count = KindCount::one;
  /// The type used when the section is absent; empty when the section is required.
  std::string default_type;
};

/// Every kind, in the SDK's order.
const std::vector<PluginKind>& plugin_kinds();

/// The kind called `name`, or nullptr.
const PluginKind* find_plugin_kind(const std::string& name);

}  // namespace ft
