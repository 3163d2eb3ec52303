#pragma once
// Calls into plugin code, turning whatever it throws into a core-owned ft::Error of the same kind.
//
// Why copy: an exception object thrown by a plugin lives in (and has its vtable in) the plugin's library. If
// the library is unloaded before the handler runs, calling what() crashes. Copies made here own their message.
// Why catch everything: a plugin that throws something that is not a std::exception would otherwise end the
// process in std::terminate.

#include "model/memory.h"

#include <ftsdk/error.h>

#include <c10/util/Exception.h>

#include <string>

namespace ft {

/// Runs `fn`; a failure is rethrown as a core-owned error whose message starts with `who` (the plugin file and
/// component) unless the plugin's message already says where it comes from (an ft::Error's own message).
template <class Fn>
auto call_plugin(const std::string& who, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const ConfigError& e) {
    throw ConfigError(e.what());
  } catch (const DataError& e) {
    throw DataError(e.what());
  } catch (const PluginError& e) {
    throw PluginError(e.what());
  } catch (const StoreError& e) {
    throw StoreError(e.what());
  } catch (const ResourceError& e) {
    throw ResourceError(e.what());
  } catch (const Error& e) {
    throw Error(e.what());
  } catch (const c10::Error& e) {
    if (is_allocation_failure(e)) throw ResourceError(who + ": out of memory: " + memory_report(e, c10::kCPU));
    throw PluginError(who + ": LibTorch error: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    if (is_allocation_failure(e)) throw ResourceError(who + ": out of memory: " + memory_report(e, c10::kCPU));
    throw PluginError(who + ": " + e.what());
  } catch (...) {
    throw PluginError(who + ": threw something that is not a std::exception (plugins must throw ft::Error)");
  }
}

}  // namespace ft
