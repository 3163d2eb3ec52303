#pragma once
/// @file
/// The one macro a plugin library uses to export itself.
///
/// Example (a whole plugin library):
///   #include <ftsdk/plugin.h>
///   static void register_components(ft::Registry& registry) {
///     registry.add_optimizer("lion", make_lion);
///   }
///   FT_PLUGIN("lion", "1.0.0", register_components)

#include <ftsdk/registry.h>
#include <ftsdk/version.h>

#include <torch/version.h>
#include <boost/dll/alias.hpp>

#include <cstdint>

namespace ft {

/// What a plugin library exports, through one function that returns a pointer to it.
/// `abi_version` stays the first member forever, so that any loader can read it and refuse a mismatch.
struct PluginInfo {
  /// `ft::kPluginAbiVersion` of the SDK the plugin was built with.
  std::uint32_t abi_version;
  /// The plugin's name, e.g. "convnet".
  const char* name;
  /// The plugin's own version.
  const char* version;
  /// `TORCH_VERSION` of the LibTorch the plugin was built against.
  const char* torch_version;
  /// Registers the plugin's components; may throw `ft::Error`.
  void (*register_components)(Registry&);
};

/// The function type behind the exported entry.
using PluginEntry = const PluginInfo*();

}  // namespace ft

namespace ft {
/// Name of the symbol FT_PLUGIN exports; the loader looks for exactly this one.
inline constexpr const char* kPluginEntryName = "ftrun_plugin_entry";
}  // namespace ft

/// Exports the plugin `name` (string), version `version` (string) whose components `register_fn` registers.
/// Use it once per library, at namespace scope in one source file.
#define FT_PLUGIN(name, version, register_fn)                                                               \
  namespace {                                                                                               \
  const ::ft::PluginInfo* ft_plugin_info() noexcept {                                                       \
    static const ::ft::PluginInfo info{::ft::kPluginAbiVersion, name, version, TORCH_VERSION, register_fn}; \
    return &info;                                                                                           \
  }                                                                                                         \
  }                                                                                                         \
  BOOST_DLL_ALIAS(ft_plugin_info, ftrun_plugin_entry)
