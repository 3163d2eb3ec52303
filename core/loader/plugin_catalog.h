#pragma once
// Loads plugin libraries (Boost.DLL), checks their versions, and makes components by kind and type name.

#include <ftsdk/registry.h>

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
  std::shared_ptr<boost::dll::shared_library> library;
  ~LoadedPlugin();
};

/// A component type as registered: which plugin provides it.
struct ComponentOrigin {
  std::string kind;
  std::string type;
  std::shared_ptr<const LoadedPlugin> plugin;
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

  std::shared_ptr<Backbone> make_backbone(const std::string& type, const Params& params, const BackboneContext& ctx);
  std::shared_ptr<Dataset> make_dataset(const std::string& type, const Params& params, const DatasetContext& ctx);
  std::shared_ptr<Head> make_head(const std::string& type, const Params& params, const HeadContext& ctx);
  std::shared_ptr<torch::optim::Optimizer> make_optimizer(const std::string& type, const Params& params,
                                                          const OptimizerContext& ctx);
  std::shared_ptr<Regularization> make_regularization(const std::string& type, const Params& params,
                                                      const RegularizationContext& ctx);

  /// While set, unknown-key errors of make_*() are appended to `sink` instead of thrown, so that every
  /// component's unknown keys can be reported together. Pass nullptr to throw again.
  void collect_key_errors(std::vector<std::string>* sink) { key_errors_ = sink; }

  /// Which plugin provides `type` of `kind`; throws PluginError for an unknown type, listing the known ones.
  ComponentOrigin origin(const std::string& kind, const std::string& type) const;
  /// Known type names of `kind`, sorted.
  std::vector<std::string> types(const std::string& kind) const;

  // Registry, called by plugins during load_file.
  void add_backbone(const std::string& name, BackboneFactory factory) override;
  void add_dataset(const std::string& name, DatasetFactory factory) override;
  void add_head(const std::string& name, HeadFactory factory) override;
  void add_optimizer(const std::string& name, OptimizerFactory factory) override;
  void add_regularization(const std::string& name, RegularizationFactory factory) override;

 private:
  template <class Factory>
  struct Entry {
    Factory factory;
    std::shared_ptr<const LoadedPlugin> plugin;
  };
  template <class Factory>
  using Entries = std::map<std::string, Entry<Factory>>;

  template <class Factory>
  void add(Entries<Factory>& entries, const std::string& kind, const std::string& name, Factory factory);
  template <class T, class Factory, class Context>
  std::shared_ptr<T> make(const Entries<Factory>& entries, const std::string& kind, const std::string& type,
                          const Params& params, const Context& ctx);
  [[noreturn]] void unknown(const std::string& kind, const std::string& type) const;

  // Libraries first, so they are destroyed last: the factories below hold code from them.
  std::vector<std::shared_ptr<const LoadedPlugin>> plugins_;
  std::shared_ptr<const LoadedPlugin> registering_;
  std::vector<std::pair<std::string, std::string>> registered_now_;  // (kind, name) added by registering_
  Entries<BackboneFactory> backbones_;
  Entries<DatasetFactory> datasets_;
  Entries<HeadFactory> heads_;
  Entries<OptimizerFactory> optimizers_;
  Entries<RegularizationFactory> regularizations_;
  std::vector<std::string> failures_;
  std::vector<std::string> conflicts_;
  bool conflict_ = false;  // set by add() when the name being registered is taken
  std::vector<std::string>* key_errors_ = nullptr;
};

/// Plugin folders in search order: `[experiment] plugin_paths`, then $FTRUN_PLUGIN_PATH (colon-separated),
/// then the built-in plugins beside the ftrun executable (build tree or installed tree).
std::vector<std::string> plugin_search_path(const std::vector<std::string>& from_experiment);

}  // namespace ft
