#pragma once
/// @file
/// Regularization plugins: hooks into the training step that fight overfitting.

#include <ftsdk/logger.h>
#include <ftsdk/tensors.h>

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>

namespace ft {

/// A regularizer. Override any of the hooks; the defaults do nothing. Hooks run in the order the experiment
/// lists the regularizations.
///
/// The model passed to `attach` and `penalty` names its parameters `backbone.<name>` and `head.<name>`.
/// A batch (ftsdk/tensors.h) holds the dataset's tensors on the training device, images normalised, and the
/// `targets` the task formed: class indices `[N]` (int64), or class probabilities `[N, num_classes]` (float) once a
/// hook mixed them.
class Regularization {
 public:
  virtual ~Regularization() = default;
  /// Called once before training, after the initial weights are loaded and the model is on its device.
  virtual void attach(torch::nn::Module& model) { (void)model; }
  /// May change a training batch in place (mixup, cutmix, noise).
  virtual void transform_batch(Batch& batch) { (void)batch; }
  /// May replace the training loss computed from `logits`; return nothing to keep the default
  /// (the previous hook's loss, or the task's). `loss` is that default.
  virtual std::optional<torch::Tensor> loss(const torch::Tensor& logits, const Batch& batch,
                                            const torch::Tensor& loss) {
    (void)logits, (void)batch, (void)loss;
    return std::nullopt;
  }
  /// A scalar added to the training loss (L2-SP, L1); an undefined tensor adds nothing.
  virtual torch::Tensor penalty(torch::nn::Module& model) {
    (void)model;
    return {};
  }
};

/// What a regularization factory is given besides its parameters.
struct RegularizationContext {
  /// Number of classes of the dataset.
  std::int64_t num_classes = 0;
  /// Where to write messages.
  Logger& log;
};

}  // namespace ft
