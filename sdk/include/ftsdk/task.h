#pragma once
/// @file
/// Task plugins: what the model is trained to do. A task owns what the training loop must not hard-code: how a
/// batch's targets are formed, the loss, the metrics (their names, which one is primary, which way is better) and
/// what the head must output. `classification` is the built-in default; `masked_lm` pretrains a text backbone.

#include <ftsdk/dataset.h>
#include <ftsdk/logger.h>
#include <ftsdk/tensors.h>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ft {

/// A metric a task reports, recorded as `train_<name>`, `val_<name>` and `test_<name>`.
struct MetricSpec {
  /// e.g. "accuracy", "perplexity"; not "loss", which every task reports.
  std::string name;
  /// Which way is better, for `train.monitor_mode = "auto"`, best checkpoints and the store's views.
  bool higher_is_better = true;
};

/// What a task wants from the backbone.
enum class FeatureShape {
  /// One vector per example, `[N, F]` (an image's pooled features, a text's [CLS] or mean-pooled vector).
  pooled,
  /// One vector per token, `[N, T, F]` (masked language modelling, token classification).
  per_token,
  /// (ABI 7) Feature maps at several scales (Backbone::forward_pyramid), which the head reads whole
  /// (Head::forward_pyramid): object detection. The backbone and head must be built against ABI 7 or newer.
  pyramid,
};

/// A task. Every function runs inside the training step or evaluation: keep them on the device, without reading
/// values back to the host.
class Task {
 public:
  virtual ~Task() = default;
  /// The metrics, the primary one first (the one `ftrun runs` shows and the store's views rank by).
  virtual std::vector<MetricSpec> metrics() const = 0;
  /// Width of the head's output: the number of classes, or the vocabulary size.
  virtual std::int64_t num_outputs() const = 0;
  /// Whether the backbone returns one vector per example or one per token.
  virtual FeatureShape feature_shape() const { return FeatureShape::pooled; }
  /// Names of the dataset tensors the task reads (checked against the dataset before training).
  virtual std::vector<std::string> reads() const { return {tensor_names::kLabels}; }
  /// Forms the batch's `targets` (and may change its inputs: masking tokens). Called for every batch, training
  /// and evaluation, before any regularization's `transform_batch`. `generator` is the run's per-epoch stream
  /// in training, and a fixed one in evaluation so that every evaluation draws alike.
  virtual void prepare(Batch& batch, at::Generator& generator) const = 0;
  /// The features the head scores, from the backbone's: all of them (the default), or for a task that scores only
  /// some tokens, those (masked_lm keeps the masked positions, `[M, F]`, which saves the vocabulary-wide head most
  /// of its work). `outputs`, below, are the head's outputs for what this returns.
  virtual torch::Tensor select(const torch::Tensor& features, const Batch& batch) const {
    (void)batch;
    return features;
  }
  /// The batch's mean loss, from the head's `outputs` and the batch's `targets` (which mixup may have made
  /// class probabilities).
  virtual torch::Tensor loss(const torch::Tensor& outputs, const Batch& batch) const = 0;
  /// What the metrics are computed from, as a float64 device tensor `[1 + metrics().size()]`: first the batch's
  /// weight (its examples, or the tokens it scores), which also weighs its loss in the epoch's mean, then one sum
  /// per metric. Sums add up over batches and processes.
  virtual torch::Tensor metric_sums(const torch::Tensor& outputs, const Batch& batch) const = 0;
  /// The metrics' values from a split's added-up `sums` and its mean loss. The default divides each sum by the
  /// weight; a task overrides it for a metric that is not a mean (perplexity is exp(mean loss)).
  virtual std::vector<double> metric_values(const std::vector<double>& sums, double mean_loss) const {
    (void)mean_loss;
    std::vector<double> values;
    for (std::size_t i = 1; i < sums.size(); ++i) values.push_back(sums[0] > 0 ? sums[i] / sums[0] : 0.0);
    return values;
  }
  /// (ABI 7) For a metric that is no sum over batches (COCO's mAP ranks every prediction of the split): the rows
  /// to keep of one evaluation batch, as float64 CPU tables `[rows, columns]`, each position of the list one table
  /// with a fixed number of columns (the `detection` task keeps its detections and its objects). Evaluation reads
  /// them back once per batch. Empty (the default) keeps nothing.
  virtual std::vector<torch::Tensor> evaluation_tables(const torch::Tensor& outputs, const Batch& batch) const {
    (void)outputs;
    (void)batch;
    return {};
  }
  /// (ABI 7) The metrics' values of an evaluated split: as `metric_values`, with each table position's rows from
  /// every batch and process in one table (the evaluation_tables above). The default ignores the tables. Training
  /// epochs keep no tables and call `metric_values`.
  virtual std::vector<double> split_metric_values(const std::vector<double>& sums, double mean_loss,
                                                  const std::vector<torch::Tensor>& tables) const {
    (void)tables;
    return metric_values(sums, mean_loss);
  }
};

/// What a task factory is given besides its parameters.
struct TaskContext {
  /// The dataset the task trains on: its classes, or its vocabulary and special tokens.
  DatasetInfo dataset;
  /// Where to write messages.
  Logger& log;
};

}  // namespace ft
