#pragma once
// Loads plugin libraries (Boost.DLL), checks their versions, and makes components by kind and type name.

#include "config/plugin_kinds.h"

#include <ftsdk/registry.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace boost::dll {
class shared_library;
}

namespace ft {

/// One loaded plugin library. Shared by every component it registered and every object those made, so the
/// library is unloaded only after the last of them is gone.
struct LoadedPlugin {
  std::string path;
  std::string name;
  std::string version;
  /// The plugin ABI it was built against (ftsdk/version.h): the core calls a virtual function appended in a later
  /// ABI only on plugins of that ABI or newer.
  std::uint32_t abi_version = 0;
  std::shared_ptr<boost::dll::shared_library> library;
  ~LoadedPlugin();
};

/// A component type as registered: which plugin provides it.
struct ComponentOrigin {
  std::string kind;
  std::string type;
  std::shared_ptr<const LoadedPlugin> plugin;
  /// The plugin ABI of the library that provides it; a component registered in-process is of this ftrun's ABI.
  std::uint32_t abi_version() const;
};

/// A library refused because a component name it registers is already taken by a library loaded before it.
class PluginConflict : public PluginError {
 public:
  using PluginError::PluginError;
};

class PluginCatalog final : public Registry {
 public:
  PluginCatalog();
  ~PluginCatalog() override;

  /// Loads one library and registers its components. Throws PluginError naming the file, what was expected
  /// and what was found. Loading a file already loaded does nothing.
  void load_file(const std::string& path);

  /// Loads every `*.so` in `folder` (a missing folder is fine). Returns one message per file that failed;
  /// those are kept (failures()) to explain a component that turns out to be missing.
  std::vector<std::string> load_folder(const std::string& folder);

  /// Messages of every failed folder load so far.
  const std::vector<std::string>& failures() const { return failures_; }
  /// Messages of folder loads refused because a component name was taken by an earlier library (one on
  /// the plugin path shadowing a built-in, say): worth a warning, since the user may not know.
  const std::vector<std::string>& conflicts() const { return conflicts_; }

  // make_<kind>(type, params, context) for every kind of ftsdk/kinds.h: make_backbone, make_dataset, make_task,
  // make_head, make_optimizer, make_regularization.
#define FT_CATALOG_MAKE(kind, Interface, Context, count, default_type)                                        \
  std::shared_ptr<Interface> make_##kind(const std::string& type, const Params& params, const Context& ctx) { \
    return make<Interface, Factory<Interface, Context>>(#kind, type, params, ctx);                            \
  }
  FTSDK_FOR_EACH_KIND(FT_CATALOG_MAKE)
#undef FT_CATALOG_MAKE

  /// While set, unknown-key errors of make_*() are appended to `sink` instead of thrown, so that every
  /// component's unknown keys can be reported together. Pass nullptr to throw again.
  void collect_key_errors(std::vector<std::string>* sink) { key_errors_ = sink; }

  /// Which plugin provides `type` of `kind`; throws PluginError for an unknown type, listing the known ones.
  ComponentOrigin origin(const std::string& kind, const std::string& type) const;
  /// Known type names of `kind`, sorted.
  std::vector<std::string> types(const std::string& kind) const;

  // Registry, called by plugins during load_file: add_<kind> for every kind.
#define FT_CATALOG_ADD(kind, Interface, Context, count, default_type)                                        \
  void add_##kind(const std::string& name, Factory<Interface, Context> factory) override {                   \
    add(#kind, name, factory ? std::make_shared<Factory<Interface, Context>>(std::move(factory)) : nullptr); \
  }
  FTSDK_FOR_EACH_KIND(FT_CATALOG_ADD)
#undef FT_CATALOG_ADD

 private:
  // A registered factory, its type erased (make() knows it from the kind), and the library it came from.
  struct Entry {
    std::shared_ptr<void> factory;
    std::shared_ptr<const LoadedPlugin> plugin;
  };

  void add(const std::string& kind, const std::string& name, std::shared_ptr<void> factory);
  const Entry& find(const std::string& kind, const std::string& type) const;
  std::shared_ptr<void> call_factory(const std::string& kind, const std::string& type, const Entry& entry,
                                     const Params& params, const std::function<std::shared_ptr<void>()>& call);
  template <class T, class Factory, class Context>
  std::shared_ptr<T> make(const std::string& kind, const std::string& type, const Params& params, const Context& ctx) {
    const Entry& entry = find(kind, type);
    const auto& factory = *static_cast<const Factory*>(entry.factory.get());
    return std::static_pointer_cast<T>(
        call_factory(kind, type, entry, params, [&] { return std::shared_ptr<void>(factory(params, ctx)); }));
  }
  [[noreturn]] void unknown(const std::string& kind, const std::string& type) const;

  // Libraries first, so they are destroyed last: the factories below hold code from them.
  std::vector<std::shared_ptr<const LoadedPlugin>> plugins_;
  std::shared_ptr<const LoadedPlugin> registering_;
  std::vector<std::pair<std::string, std::string>> registered_now_;  // (kind, name) added by registering_
  std::map<std::string, std::map<std::string, Entry>> entries_;      // kind → type name → entry
  std::vector<std::string> failures_;
  std::vector<std::string> conflicts_;
  bool conflict_ = false;  // set by add() when the name being registered is taken
  std::vector<std::string>* key_errors_ = nullptr;
};

/// Plugin folders in search order: `[experiment] plugin_paths`, then $FTRUN_PLUGIN_PATH (colon-separated),
/// then the built-in plugins beside the ftrun executable (build tree or installed tree).
std::vector<std::string> plugin_search_path(const std::vector<std::string>& from_experiment);

}  // namespace ft
