#pragma once
// The model the runner trains: a plugin backbone followed by a plugin head, named "backbone" and "head".

#include "model/checkpoint.h"

#include <ftsdk/backbone.h>
#include <ftsdk/head.h>
#include <ftsdk/logger.h>
#include <ftsdk/task.h>
#include <ftsdk/tensors.h>

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
  /// The head's outputs for a batch (Backbone::encode reads its tensors), or, with set_inputs_after(k), for the
  /// backbone's activations after its first k stages held in the batch's `images` (the feature cache: a frozen
  /// prefix ran once per image before training).
  torch::Tensor forward(const Batch& batch);
  /// Same, the head applied to what the task selects of the backbone's features (Task::select); the training step
  /// and evaluation call this one.
  torch::Tensor forward(const Batch& batch, const Task& task);
  /// Same, for a batch of images alone.
  torch::Tensor forward(const torch::Tensor& images) { return forward(Batch{{tensor_names::kImages, images}}); }
  /// `set_inputs_after(kWholeBackbone)`: inputs are the backbone's features; k: its activations after k stages
  /// (Backbone::forward_stages); 0: images again.
  void set_inputs_after(std::size_t stages) { inputs_after_ = stages; }
  static constexpr std::size_t kWholeBackbone = static_cast<std::size_t>(-1);
  /// True when the whole backbone is frozen and kept in eval mode (`freeze = ["*"]`): its output for an image
  /// never changes while training.
  bool backbone_fixed() const;
  /// How many leading stages of the backbone are frozen and kept in eval mode (by `freeze` prefixes).
  std::size_t frozen_leading_stages() const;
  bool has_frozen_modules() const { return !frozen_prefixes_.empty(); }

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
  std::vector<std::string> frozen_prefixes_;
  std::size_t inputs_after_ = 0;
};

/// Puts `module` in eval mode, without gradients, while alive; then back in the mode it was in.
class EvalScope {
 public:
  explicit EvalScope(torch::nn::Module& module) : module_(module), was_training_(module.is_training()) {
    module_.eval();
  }
  ~EvalScope() { module_.train(was_training_); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
  torch::NoGradGuard no_grad_;
};

/// Loads the backbone's weights from `tensors` (a checkpoint's "backbone.*" entries, or bare backbone names).
/// Missing tensors and shape mismatches are errors naming the tensors; other entries (an old head) are
/// dropped with a log line. `origin` names the source in messages.
void load_backbone_weights(Classifier& model, const TensorMap& tensors, const std::string& origin, Logger& log);

/// Loads the head's weights from `tensors`' "head.*" entries (a checkpoint, or a detector's file written by
/// scripts/export_weights.py). A tensor whose shape differs (the class logits of another set of classes) keeps its
/// new initial values, said in the log; a missing one is an error naming it, as is a file without head tensors.
void load_head_weights(Classifier& model, const TensorMap& tensors, const std::string& origin, Logger& log);

}  // namespace ft
