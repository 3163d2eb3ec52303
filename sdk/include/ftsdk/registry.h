#pragma once
/// @file
/// Where a plugin registers the components it provides.

#include <ftsdk/kinds.h>
#include <ftsdk/params.h>

#include <functional>
#include <memory>
#include <string>

namespace ft {

/// Makes a component of one kind from its parameters, e.g. `Factory<Head, HeadContext>`.
template <class Interface, class Context>
using Factory = std::function<std::shared_ptr<Interface>(const Params&, const Context&)>;

/// Receives a plugin's components: one `add_<kind>` per kind of ftsdk/kinds.h (add_backbone, add_dataset,
/// add_task, add_head, add_optimizer, add_regularization). The name is what experiment files write as
/// `type = "..."`; it must be unique per kind across every loaded plugin. Factories throw `ft::ConfigError` for
/// bad parameters and `ft::DataError` for missing or malformed data; they never return null.
///
/// Example:
///   registry.add_head("linear", [](const ft::Params& p, const ft::HeadContext& ctx) { ... });
class Registry {
 public:
  virtual ~Registry() = default;
#define FTSDK_REGISTRY_ADD(kind, Interface, Context, count, default_type) \
  virtual void add_##kind(const std::string& name, Factory<Interface, Context> factory) = 0;
  FTSDK_FOR_EACH_KIND(FTSDK_REGISTRY_ADD)
#undef FTSDK_REGISTRY_ADD
};

}  // namespace ft
