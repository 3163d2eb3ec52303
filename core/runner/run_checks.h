#pragma once
// Checks that a run's components agree before it is recorded, each failure naming the components involved: the
// dataset describes itself consistently, the dataset has the tensors the backbone and the task read, the model's
// outputs have the shape the task wants, and the monitored metric is one the task reports.

#include "config/experiment.h"
#include "model/model.h"

#include <ftsdk/dataset.h>
#include <ftsdk/task.h>

namespace ft {

/// The dataset's own description: classes (when the task reads labels), image channels and their statistics, or a
/// vocabulary.
void check_dataset_info(const DatasetInfo& info, const Task& task, const RunConfig& run);

/// Every tensor the backbone and the task read is one the dataset's examples have.
void check_tensor_names(const DatasetInfo& info, const Backbone& backbone, const Task& task, const RunConfig& run);

/// One forward pass of two blank examples shaped like the dataset's: a backbone and head that disagree with the
/// dataset or the task would otherwise train (a head with more outputs than classes trains to completion) or fail
/// deep inside LibTorch.
void check_outputs(Classifier& model, const Split& train, const Task& task, const RunConfig& run);

/// For a task that reads a feature pyramid (detection), what would move the images without their boxes or mix
/// two images' objects is refused before anything is recorded: the geometric `dataset.augment` entries (the
/// dataset's own box-aware flip and resize serve instead), mixup and cutmix, label smoothing (a classification
/// loss), and a forced feature cache.
void check_pyramid_run(const Task& task, const RunConfig& run);

/// For a task that reads a feature pyramid: the backbone and head plugins are built against ABI 7 or newer (the
/// first with Backbone::forward_pyramid and Head::forward_pyramid), and the backbone has a pyramid.
void check_pyramid_components(const Backbone& backbone, std::uint32_t backbone_abi, std::uint32_t head_abi,
                              const RunConfig& run);

/// `train.monitor` names the loss or one of the task's metrics.
void check_monitor(const Task& task, const RunConfig& run);

}  // namespace ft
