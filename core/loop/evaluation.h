#pragma once
// Loss and the task's metrics of the model on a split (validation or test), without gradients. With several processes
// each evaluates its own contiguous range of the split and the sums are added up, so every example counts once.

#include "data/batch_source.h"
#include "model/model.h"

#include <ftsdk/task.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ft {

class ProcessGroup;

struct EvalResult {
  double loss = 0;
  /// The task's metrics by name ("accuracy", "perplexity"), in the task's order, the primary one first.
  std::vector<std::pair<std::string, double>> metrics;
  std::int64_t examples = 0;
};

struct EvaluationSetup {
  /// What the model is evaluated on (targets, loss, metrics).
  const Task* task = nullptr;
  std::int64_t batch_size = 256;
  std::int64_t loader_threads = 2;
  std::string precision = "fp32";
  /// The task is of ABI 7 or newer and may keep tables of every batch (Task::evaluation_tables).
  bool task_keeps_tables = false;
};

/// Evaluates `model` on `source`; the sums stay on the device until the end (one read-back per evaluation).
EvalResult evaluate(Classifier& model, const BatchSource& source, const EvaluationSetup& setup,
                    ProcessGroup* group = nullptr);

}  // namespace ft
