#pragma once
// ftrun's own samplers (ftsdk/sampler.h): grid (every combination of the lists, the last varying fastest), random
// (each trial's values drawn from (sweep seed, trial number) alone) and tpe (tpe.h, Optuna's defaults). A sampler
// plugin adds others under its own name.

#include <ftsdk/params.h>
#include <ftsdk/sampler.h>

#include <memory>
#include <string>
#include <vector>

namespace ft {

/// The built-in sampler called `method` ("grid", "random", "tpe"), or nullptr for another name (a plugin's).
/// `params` is the [sweep.sampler] table: tpe reads startup_trials (10), candidates (24) and multivariate (true).
std::shared_ptr<Sampler> make_builtin_sampler(const std::string& method, const Params& params,
                                              const SamplerContext& context);

/// The built-in samplers' names: grid, random, tpe.
const std::vector<std::string>& builtin_sampler_names();

/// Whether `method` is a built-in sampler.
bool is_builtin_sampler(const std::string& method);

}  // namespace ft
