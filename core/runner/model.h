#pragma once
// The model the runner trains: a plugin backbone followed by a plugin head, named "backbone" and "head".

#include "runner/checkpoint.h"

#include <ftsdk/backbone.h>
#include <ftsdk/head.h>
#include <ftsdk/logger.h>

#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

namespace ft {

/// True when parameter or module `name` lies under `prefix` at a name boundary ("layer1" matches "layer1" and
/// "layer1.0.weight", not "layer10.weight"); "*" matches everything.
bool matches_prefix(const std::string& name, const std::string& prefix);

class Classifier : public torch::nn::Module {
 public:
  Classifier(std::shared_ptr<Backbone> backbone, std::shared_ptr<Head> head);
  /// Logits for a batch of images, or for a batch of backbone features while `features_as_inputs` is set (the
  /// feature cache: the frozen backbone ran once per image before training).
  torch::Tensor forward(const torch::Tensor& images);
  void set_features_as_inputs(bool on) { features_as_inputs_ = on; }
  /// True when the whole backbone is frozen and kept in eval mode (`freeze = ["*"]`): its output for an image
  /// never changes while training.
  bool backbone_fixed() const;

  Backbone& backbone() { return *backbone_; }
  Head& head() { return *head_; }

  /// Freezes backbone parameters whose names start with one of `prefixes` (at a name boundary: "layer1"
  /// matches "layer1.0.weight", not "layer10.weight"; "*" matches all). Returns how many tensors were frozen.
  /// Throws ConfigError when a prefix matches nothing, listing the top-level module names.
  std::int64_t freeze(const std::vector<std::string>& prefixes);

  /// train()/eval() for the whole model, keeping frozen modules (and their BatchNorm statistics) in eval mode.
  void set_training(bool training);

  /// Every parameter and buffer, by name.
  TensorMap state() const;

 private:
  std::shared_ptr<Backbone> backbone_;
  std::shared_ptr<Head> head_;
  std::vector<std::shared_ptr<torch::nn::Module>> frozen_modules_;
  bool features_as_inputs_ = false;
};

/// Loads the backbone's weights from `tensors` (a checkpoint's "backbone.*" entries, or bare backbone names).
/// Missing tensors and shape mismatches are errors naming the tensors; other entries (an old head) are
/// dropped with a log line. `origin` names the source in messages.
void load_backbone_weights(Classifier& model, const TensorMap& tensors, const std::string& origin, Logger& log);

}  // namespace ft
