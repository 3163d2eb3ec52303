#pragma once
/// @file
/// Where a plugin registers the components it provides.

#include <ftsdk/backbone.h>
#include <ftsdk/dataset.h>
#include <ftsdk/head.h>
#include <ftsdk/optimizer.h>
#include <ftsdk/params.h>
#include <ftsdk/regularization.h>

#include <functional>
#include <memory>
#include <string>

namespace ft {

/// Makes a backbone from its parameters.
using BackboneFactory = std::function<std::shared_ptr<Backbone>(const Params&, const BackboneContext&)>;
/// Makes a dataset from its parameters.
using DatasetFactory = std::function<std::shared_ptr<Dataset>(const Params&, const DatasetContext&)>;
/// Makes a head from its parameters.
using HeadFactory = std::function<std::shared_ptr<Head>(const Params&, const HeadContext&)>;
/// Makes an optimizer over the context's parameter groups.
using OptimizerFactory =
    std::function<std::shared_ptr<torch::optim::Optimizer>(const Params&, const OptimizerContext&)>;
/// Makes a regularization from its parameters.
using RegularizationFactory =
    std::function<std::shared_ptr<Regularization>(const Params&, const RegularizationContext&)>;

/// Receives a plugin's components. The name is what experiment files write as `type = "..."`; it must be
/// unique per kind across every loaded plugin. Factories throw `ft::ConfigError` for bad parameters and
/// `ft::DataError` for missing or malformed data; they never return null.
///
/// Example:
///   registry.add_head("linear", [](const ft::Params& p, const ft::HeadContext& ctx) { ... });
class Registry {
 public:
  virtual ~Registry() = default;
  /// Registers a backbone type.
  virtual void add_backbone(const std::string& name, BackboneFactory factory) = 0;
  /// Registers a dataset type.
  virtual void add_dataset(const std::string& name, DatasetFactory factory) = 0;
  /// Registers a head type.
  virtual void add_head(const std::string& name, HeadFactory factory) = 0;
  /// Registers an optimizer type.
  virtual void add_optimizer(const std::string& name, OptimizerFactory factory) = 0;
  /// Registers a regularization type.
  virtual void add_regularization(const std::string& name, RegularizationFactory factory) = 0;
};

}  // namespace ft
