#pragma once
// Checks an optimizer plugin before a run is recorded, on small stand-in parameters (never the model's): what the
// loop relies on must be there, or the user hears about it now rather than after training.

#include <ftsdk/params.h>

#include <cstddef>
#include <string>

namespace ft {

class PluginCatalog;

/// Makes optimizer `type` over `groups` small stand-in parameter groups and steps it.
/// - Throws PluginError when a group's options lack get_lr()/set_lr() (schedules and lr_mult need them), saying
///   what to implement.
/// - Returns a warning when its state does not survive save() and load() (two copies, one restored from the
///   other's saved state, take different steps): `ftrun resume` would then not continue exactly. Empty when fine.
std::string probe_optimizer(PluginCatalog& catalog, const std::string& type, const Params& params, std::size_t groups);

}  // namespace ft
