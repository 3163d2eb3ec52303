#include "loader/plugin_catalog.h"

#include "config/join.h"
#include "config/nearest_key.h"
#include "loader/plugin_call.h"

#include <ftsdk/plugin.h>

#include <boost/dll/library_info.hpp>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace ft {
namespace {

constexpr const char* kEntryName = kPluginEntryName;

// An object made by a plugin holds its library: the holder is destroyed object first, library last.
template <class T>
std::shared_ptr<T> keep_library_alive(std::shared_ptr<T> object, std::shared_ptr<const LoadedPlugin> plugin) {
  struct Holder {
    std::shared_ptr<const LoadedPlugin> plugin;
    std::shared_ptr<T> object;
  };
  auto holder = std::make_shared<Holder>(Holder{std::move(plugin), std::move(object)});
  T* raw = holder->object.get();
  return std::shared_ptr<T>(std::move(holder), raw);
}

// Keys of a plugin's section that its factory never read are typos or keys of another type; all of them are
// reported at once.
void reject_unread_keys(const Params& params, const std::string& kind, const std::string& type) {
  std::vector<std::string> read(params.read_keys().begin(), params.read_keys().end());
  std::vector<std::string> known = read;
  known.insert(known.begin(), "type");
  std::vector<std::string> unknown;
  for (const auto& key : params.keys()) {
    if (params.read_keys().count(key)) continue;
    const ParamValue* value = params.find(key);
    unknown.push_back(value->where.str() + ": unknown key '" + key + "' in [" + params.section() + "] for " + kind +
                      " '" + type + "'" + did_you_mean(key, known) +
                      (read.empty() ? std::string() : " (keys it read: " + join(read) + ")"));
  }
  if (!unknown.empty()) throw ConfigError(join(unknown, "\n"));
}

}  // namespace

LoadedPlugin::~LoadedPlugin() = default;

std::uint32_t ComponentOrigin::abi_version() const { return plugin ? plugin->abi_version : kPluginAbiVersion; }

PluginCatalog::PluginCatalog() = default;
PluginCatalog::~PluginCatalog() {
  // Factories (code inside the libraries) go before the libraries themselves.
  entries_.clear();
}

namespace {

// dlopen runs a library's static constructors before anything can be asked of it. Its ELF headers, read as a file,
// say whether it has ftrun's entry at all: BOOST_DLL_ALIAS puts the entry in a section named "boostdll", and names
// it in the symbol table when the library is not stripped. A library with the entry still runs its constructors
// when loaded: that cannot be checked from outside (docs/plugins.md).
void refuse_without_entry(const std::string& path) {
  std::vector<std::string> sections, entries;
  try {
    boost::dll::library_info info(path);
    sections = info.sections();
    entries = info.symbols("boostdll");
  } catch (const std::exception& e) {
    throw PluginError("plugin " + path + ": cannot load it as a shared library: not an ELF file for this machine (" +
                      e.what() + "); expected a shared library built against LibTorch " + TORCH_VERSION);
  }
  const bool section = std::find(sections.begin(), sections.end(), "boostdll") != sections.end();
  // A stripped library keeps its sections but not its symbol table: then the section alone has to do.
  const bool entry = entries.empty() || std::find(entries.begin(), entries.end(), kEntryName) != entries.end();
  if (!section || !entry) {
    throw PluginError("plugin " + path + ": no entry '" + kEntryName +
                      "' found; expected a library made with FT_PLUGIN(...) from <ftsdk/plugin.h> (refused from its "
                      "headers: nothing of it ran)");
  }
}

}  // namespace

void PluginCatalog::load_file(const std::string& given_path) {
  std::error_code error;
  if (!fs::exists(given_path, error)) {
    throw PluginError("plugin " + given_path + ": file not found (expected a shared library built with the ftrun SDK)");
  }
  if (!fs::is_regular_file(given_path, error)) {
    throw PluginError("plugin " + given_path + ": not a regular file (expected a shared library)");
  }
  const std::string path = fs::canonical(given_path, error).string();
  for (const auto& plugin : plugins_) {
    if (plugin->path == path) return;
  }

  refuse_without_entry(path);
  auto plugin = std::make_shared<LoadedPlugin>();
  plugin->path = path;
  try {
    // Immediate binding: a library with an unresolved symbol is refused here, naming the symbol, instead of
    // killing the process when the symbol is first called (lazy binding).
    plugin->library = std::make_shared<boost::dll::shared_library>(path, boost::dll::load_mode::rtld_now);
  } catch (const std::exception& e) {
    throw PluginError("plugin " + path + ": cannot load it as a shared library: " + e.what() +
                      " (expected an ELF shared library for this machine, built against LibTorch " + TORCH_VERSION +
                      ")");
  }
  if (!plugin->library->has(kEntryName)) {
    throw PluginError("plugin " + path + ": no entry '" + kEntryName +
                      "' found; expected a library made with FT_PLUGIN(...) from <ftsdk/plugin.h>");
  }
  const PluginInfo* info = nullptr;
  try {
    info = plugin->library->get_alias<PluginEntry>(kEntryName)();
  } catch (...) {
    throw PluginError("plugin " + path + ": its entry '" + kEntryName + "' threw; it must only return its information");
  }
  if (info == nullptr) throw PluginError("plugin " + path + ": its entry returned no plugin information");
  if (info->abi_version > kPluginAbiVersion) {
    throw PluginError("plugin " + path + ": built against a newer ftsdk (plugin ABI " +
                      std::to_string(info->abi_version) + "); this ftrun " + kFtrunVersion + " loads ABI " +
                      std::to_string(kOldestLoadableAbiVersion) + " to " + std::to_string(kPluginAbiVersion) +
                      ": upgrade ftrun, or rebuild the plugin against this ftrun's SDK");
  }
  if (info->abi_version < kOldestLoadableAbiVersion) {
    const std::uint32_t found_sdk = sdk_major_of_abi(info->abi_version);
    throw PluginError("plugin " + path + ": wrong plugin ABI version: expected " + std::to_string(kPluginAbiVersion) +
                      " (ftsdk " + std::to_string(kSdkMajorVersion) + "), found " + std::to_string(info->abi_version) +
                      " (ftsdk " + std::to_string(found_sdk) + "); rebuild against ftsdk " +
                      std::to_string(kSdkMajorVersion) + " (find_package(ftsdk " + std::to_string(kSdkMajorVersion) +
                      ")" + (found_sdk < kSdkMajorVersion ? "; docs/plugins.md says what changed" : "") + ")");
  }
  const std::string plugin_torch = info->torch_version ? info->torch_version : "(none)";
  if (plugin_torch != TORCH_VERSION) {
    throw PluginError("plugin " + path + ": built against LibTorch " + plugin_torch + ", but ftrun runs LibTorch " +
                      TORCH_VERSION + "; rebuild the plugin against LibTorch " + TORCH_VERSION);
  }
  plugin->name = info->name ? info->name : "";
  plugin->version = info->version ? info->version : "";
  plugin->abi_version = info->abi_version;
  if (info->register_components == nullptr) {
    throw PluginError("plugin " + path + ": its entry has no registration function");
  }

  registering_ = plugin;
  registered_now_.clear();
  conflict_ = false;
  // Whatever the registration throws is turned into a core-owned message first: the exception object lives in
  // the plugin's library, which is unloaded when `plugin` goes out of scope below, before any handler runs.
  std::string failure;
  try {
    info->register_components(*this);
  } catch (const PluginError& e) {
    failure = e.what();
  } catch (const std::exception& e) {
    failure = "plugin " + path + ": registration failed: " + e.what();
  } catch (...) {
    failure = "plugin " + path + ": registration threw something that is not a std::exception";
  }
  if (!failure.empty()) {
    // Leave the catalog as it was: no half-registered plugin.
    for (const auto& [kind, name] : registered_now_) entries_[kind].erase(name);
    registering_.reset();
    if (conflict_) throw PluginConflict(failure);
    throw PluginError(failure);
  }
  registering_.reset();
  plugins_.push_back(plugin);
}

std::vector<std::string> PluginCatalog::load_folder(const std::string& folder) {
  std::vector<std::string> messages;
  std::error_code error;
  if (!fs::is_directory(folder, error)) return messages;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    if (entry.path().extension() == ".so") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    try {
      load_file(file.string());
    } catch (const PluginConflict& e) {
      conflicts_.push_back(e.what());
      messages.push_back(e.what());
    } catch (const Error& e) {
      messages.push_back(e.what());
    }
  }
  failures_.insert(failures_.end(), messages.begin(), messages.end());
  return messages;
}

void PluginCatalog::add(const std::string& kind, const std::string& name, std::shared_ptr<void> factory) {
  const std::string from = registering_ ? registering_->path : std::string("(the core)");
  if (name.empty()) throw PluginError("plugin " + from + ": registers a " + kind + " with an empty name");
  if (!factory) throw PluginError("plugin " + from + ": registers " + kind + " '" + name + "' without a factory");
  auto& entries = entries_[kind];
  if (auto it = entries.find(name); it != entries.end()) {
    conflict_ = true;
    throw PluginError("plugin " + from + ": " + kind + " '" + name + "' is already registered by " +
                      it->second.plugin->path + "; each type name must be unique, rename one of them");
  }
  entries[name] = Entry{std::move(factory), registering_};
  registered_now_.emplace_back(kind, name);
}

std::vector<std::string> PluginCatalog::types(const std::string& kind) const {
  std::vector<std::string> names;
  if (auto it = entries_.find(kind); it != entries_.end()) {
    for (const auto& entry : it->second) names.push_back(entry.first);
  }
  return names;
}

void PluginCatalog::unknown(const std::string& kind, const std::string& type) const {
  const auto known = types(kind);
  std::string message = "unknown " + kind + " type '" + type + "'" + did_you_mean(type, known) +
                        " (known: " + (known.empty() ? std::string("none") : join(known)) + ")";
  if (!failures_.empty()) {
    message += "\n  these plugin libraries failed to load and may provide it:";
    for (const auto& failure : failures_) message += "\n  - " + failure;
  }
  throw PluginError(message);
}

const PluginCatalog::Entry& PluginCatalog::find(const std::string& kind, const std::string& type) const {
  auto entries = entries_.find(kind);
  if (entries == entries_.end()) unknown(kind, type);
  auto it = entries->second.find(type);
  if (it == entries->second.end()) unknown(kind, type);
  return it->second;
}

ComponentOrigin PluginCatalog::origin(const std::string& kind, const std::string& type) const {
  return {kind, type, find(kind, type).plugin};
}

std::shared_ptr<void> PluginCatalog::call_factory(const std::string& kind, const std::string& type, const Entry& entry,
                                                  const Params& params,
                                                  const std::function<std::shared_ptr<void>()>& call) {
  const std::string who = "plugin " + entry.plugin->path + ": " + kind + " '" + type + "'";
  std::shared_ptr<void> object = call_plugin(who, call);
  if (!object) {
    throw PluginError("plugin " + entry.plugin->path + ": the " + kind + " factory '" + type +
                      "' returned nothing (factories must throw an ft::Error instead)");
  }
  try {
    reject_unread_keys(params, kind, type);
  } catch (const ConfigError& e) {
    if (!key_errors_) throw;
    key_errors_->push_back(e.what());
  }
  return keep_library_alive(std::move(object), entry.plugin);
}

std::vector<std::string> plugin_search_path(const std::vector<std::string>& from_experiment) {
  std::vector<std::string> folders = from_experiment;
  if (const char* env = std::getenv("FTRUN_PLUGIN_PATH"); env && *env) {
    std::stringstream stream(env);
    for (std::string folder; std::getline(stream, folder, ':');) {
      if (!folder.empty()) folders.push_back(folder);
    }
  }
  std::error_code error;
  const fs::path exe_dir = boost::dll::program_location(error).parent_path();
  if (!error) {
    folders.push_back((exe_dir / "plugins").string());               // build tree: build/ftrun
    folders.push_back((exe_dir / "../lib/ftrun/plugins").string());  // installed: bin/ftrun
  }
  return folders;
}

}  // namespace ft
