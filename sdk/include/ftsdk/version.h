#pragma once
/// @file
/// Versions a plugin is checked against when it is loaded.

#include <cstdint>

namespace ft {

/// Version of the plugin interface: the layout of `PluginInfo` and every class in `sdk/`.
/// Bump it whenever a change in `sdk/` would make a plugin built against the old headers misbehave: a virtual
/// function added, removed or reordered, a member added to a struct that crosses the boundary, a changed factory
/// signature. The loader refuses plugins built with any other value.
/// 2: `Params` records the defaults it returns.
/// 3: `Backbone::forward_stages` (a backbone split at its stages, for the feature cache).
/// 4: `Split::get_for_training` and `Split::draws_random` (augmentation while decoding).
/// 5 (ftsdk 2): the task kind, named-tensor examples and batches, one list of kinds (ftsdk/kinds.h).
/// 6 (ftsdk 2.2): the sampler kind (ftsdk/sampler.h), its `Registry::add_sampler` appended after every other
///   virtual function, so plugins of ABI 5 still load (kOldestLoadableAbiVersion); ftrun builds before 2.2 refuse
///   plugins of ABI 6, which may call add_sampler.
/// 7 (ftsdk 2.3): feature pyramids for detection, appended after every other virtual function so plugins of ABI 5
///   and 6 still load: `Backbone::pyramid_channels` and `forward_pyramid`, `Head::forward_pyramid`,
///   `HeadContext::pyramid_channels`, `FeatureShape::pyramid`, `Task::evaluation_tables` and
///   `split_metric_values`. The core calls them only on plugins of ABI 7 or newer (a detection run refuses an older
///   backbone or head by name).
inline constexpr std::uint32_t kPluginAbiVersion = 7;

/// The oldest ABI whose plugins this ftrun still loads: every change since only appended to it.
inline constexpr std::uint32_t kOldestLoadableAbiVersion = 5;

/// The SDK's major version, the `ftsdk` CMake package's: plugins built against another major version are refused
/// with "rebuild against ftsdk 2".
inline constexpr std::uint32_t kSdkMajorVersion = 2;

/// The SDK major version of each older ABI version, to say which SDK a refused plugin was built with.
inline constexpr std::uint32_t sdk_major_of_abi(std::uint32_t abi) { return abi >= 5 ? 2 : 1; }

/// Version of ftrun itself, recorded with every run.
inline constexpr const char* kFtrunVersion = "0.1.0";

}  // namespace ft
