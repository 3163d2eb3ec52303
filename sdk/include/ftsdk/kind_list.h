#pragma once
/// @file
/// Every plugin kind, in one list. The registry's `add_<kind>` functions, the core's plugin catalog (making
/// components, rolling back a plugin that failed half-way), `ftrun plugins` (which lists plugins by kind), the
/// experiment loader's sections and the record of which library provided each component all come from it. Adding a
/// kind is one line here plus its interface header (included by ftsdk/kinds.h), and, for the core code that uses
/// it, a member of RunConfig (core/config/experiment.h). This file includes nothing, so that code which only needs
/// the names stays free of LibTorch.
///
/// New kinds go last: the registry's virtual functions follow this order, and a plugin built against an older
/// SDK must find the ones it knows where they were (ftsdk/version.h).
///
/// Each entry: X(kind, Interface, Context, Count, default type)
///   kind          the experiment file's section name and the registry's `add_<kind>`;
///   Interface     what a factory makes;
///   Context       what a factory is given besides its parameters;
///   Count         `one` ([kind] table), `many` ([[kind]] array of tables, applied in order) or `sweep` (one per
///                 sweep, not per run: named by `[sweep] method`, its parameters in `[sweep.sampler]`);
///   default type  the type when the section is absent, or "" when the section is required.

#define FTSDK_FOR_EACH_KIND(X)                                                   \
  X(backbone, ::ft::Backbone, ::ft::BackboneContext, one, "")                    \
  X(dataset, ::ft::Dataset, ::ft::DatasetContext, one, "")                       \
  X(task, ::ft::Task, ::ft::TaskContext, one, "classification")                  \
  X(head, ::ft::Head, ::ft::HeadContext, one, "")                                \
  X(optimizer, ::torch::optim::Optimizer, ::ft::OptimizerContext, one, "")       \
  X(regularization, ::ft::Regularization, ::ft::RegularizationContext, many, "") \
  X(sampler, ::ft::Sampler, ::ft::SamplerContext, sweep, "")
