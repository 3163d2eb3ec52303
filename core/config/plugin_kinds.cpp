#include "config/plugin_kinds.h"

#include <ftsdk/kind_list.h>

namespace ft {

const std::vector<PluginKind>& plugin_kinds() {
  static const std::vector<PluginKind> kinds = {
#define FT_PLUGIN_KIND(kind, Interface, Context, count, default_type) {#kind, KindCount::count, default_type},
      FTSDK_FOR_EACH_KIND(FT_PLUGIN_KIND)
#undef FT_PLUGIN_KIND
  };
  return kinds;
}

const PluginKind* find_plugin_kind(const std::string& name) {
  for (const auto& kind : plugin_kinds()) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

}  // namespace ft
