#pragma once
// What the in-memory image datasets (fashion_mnist, cifar10, cifar100) share: choosing classes, a validation
// split per class, a few-shot limit, and turning the chosen images into a TensorSplit.
//
// Parameters read: classes (all by default; relabelled 0..k-1 in the order given), samples_per_class (few-shot
// limit on the training split), validation_fraction (per class, taken from the training images before the limit
// so validation stays large), seed (defaults to the experiment's).

#include "labelled_images.h"

#include <ftsdk/dataset.h>
#include <ftsdk/params.h>

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace ft_plugins {

struct ClassSubsets {
  std::vector<std::int64_t> classes;  // original class ids, in their new order
  std::shared_ptr<const ft::Split> train, validation, test;
  std::int64_t train_size = 0, validation_size = 0, test_size = 0;
};

/// The images at `picked`, relabelled through `new_label`, as an in-memory split.
inline std::shared_ptr<const ft::Split> make_split(const LabelledImages& images,
                                                   const std::vector<std::int64_t>& picked,
                                                   const std::vector<std::int64_t>& new_label) {
  const std::int64_t n = static_cast<std::int64_t>(picked.size());
  const std::int64_t size = images.channels * images.height * images.width;
  auto pixels = torch::empty({n, images.channels, images.height, images.width}, torch::kUInt8);
  auto labels = torch::empty({n}, torch::kLong);
  auto* out = pixels.data_ptr<std::uint8_t>();
  auto* classes = labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    std::copy_n(images.pixels.data() + picked[i] * size, size, out + i * size);
    classes[i] = new_label[images.labels[picked[i]]];
  }
  return std::make_shared<ft::TensorSplit>(pixels, labels);
}

/// Indices of the examples each split takes, class by class in the order of `classes`.
struct PickedByClass {
  std::vector<std::int64_t> train, validation, test;
};

/// Per class: its training examples shuffled with `seed`, the first `test_fraction` of them to test (for data
/// without a test file), the next `validation_fraction` to validation, the rest, up to `limit`, to train; then the
/// class's examples of `test_labels` (a test file) to test. Fractions round to the nearest count.
inline PickedByClass pick_by_class(const std::vector<std::int64_t>& train_labels,
                                   const std::vector<std::int64_t>& test_labels,
                                   const std::vector<std::int64_t>& classes, std::optional<std::int64_t> limit,
                                   double validation_fraction, double test_fraction, std::uint64_t seed) {
  PickedByClass out;
  for (const auto cls : classes) {
    std::vector<std::int64_t> members;
    for (std::size_t i = 0; i < train_labels.size(); ++i) {
      if (train_labels[i] == cls) members.push_back(static_cast<std::int64_t>(i));
    }
    std::mt19937_64 rng(seed * 1000003u + static_cast<std::uint64_t>(cls));
    std::shuffle(members.begin(), members.end(), rng);
    auto count = [&](double fraction) {
      return static_cast<std::size_t>(fraction * static_cast<double>(members.size()) + 0.5);
    };
    const std::size_t n_test = test_fraction > 0 ? count(test_fraction) : 0;
    const std::size_t n_validation = std::min(count(validation_fraction), members.size() - n_test);
    auto next = members.begin();
    out.test.insert(out.test.end(), next, next + n_test);
    next += n_test;
    out.validation.insert(out.validation.end(), next, next + n_validation);
    next += n_validation;
    auto train_end = members.end();
    if (limit) train_end = next + std::min<std::size_t>(*limit, members.end() - next);
    out.train.insert(out.train.end(), next, train_end);
    for (std::size_t i = 0; i < test_labels.size(); ++i) {
      if (test_labels[i] == cls) out.test.push_back(static_cast<std::int64_t>(i));
    }
  }
  return out;
}

/// Reads classes / samples_per_class / validation_fraction / seed and splits `train` and `test` accordingly.
inline ClassSubsets split_by_class(const ft::Params& params, std::uint64_t default_seed, std::int64_t num_classes,
                                   const LabelledImages& train, const LabelledImages& test) {
  std::vector<std::int64_t> all(num_classes);
  std::iota(all.begin(), all.end(), 0);
  ClassSubsets out;
  out.classes = params.get<std::vector<std::int64_t>>("classes", all);
  const auto limit = params.optional<std::int64_t>("samples_per_class");
  const double fraction = params.get_finite("validation_fraction", 0.1);
  const auto seed =
      static_cast<std::uint64_t>(params.get<std::int64_t>("seed", static_cast<std::int64_t>(default_seed)));
  if (out.classes.size() < 2) params.fail("classes", "needs at least two classes");
  if (limit && *limit < 1) params.fail("samples_per_class", "must be at least 1");
  if (fraction < 0 || fraction >= 1) params.fail("validation_fraction", "must be in [0, 1)");
  std::vector<std::int64_t> new_label(num_classes, -1);
  for (std::size_t i = 0; i < out.classes.size(); ++i) {
    const auto cls = out.classes[i];
    if (cls < 0 || cls >= num_classes) params.fail("classes", "class ids are 0.." + std::to_string(num_classes - 1));
    if (new_label[cls] >= 0) params.fail("classes", "lists class " + std::to_string(cls) + " twice");
    new_label[cls] = static_cast<std::int64_t>(i);
  }

  const PickedByClass picked = pick_by_class(train.labels, test.labels, out.classes, limit, fraction, 0.0, seed);
  const auto& train_picked = picked.train;
  const auto& validation_picked = picked.validation;
  const auto& test_picked = picked.test;
  out.train = make_split(train, train_picked, new_label);
  if (!validation_picked.empty()) out.validation = make_split(train, validation_picked, new_label);
  if (!test_picked.empty()) out.test = make_split(test, test_picked, new_label);
  out.train_size = static_cast<std::int64_t>(train_picked.size());
  out.validation_size = static_cast<std::int64_t>(validation_picked.size());
  out.test_size = static_cast<std::int64_t>(test_picked.size());
  return out;
}

/// A dataset whose splits come from split_by_class: subclasses fill `info_` and `subsets_` in their constructor.
class ClassSubsetDataset : public ft::Dataset {
 public:
  ft::DatasetInfo info() const override { return info_; }
  std::shared_ptr<const ft::Split> train() const override { return subsets_.train; }
  std::shared_ptr<const ft::Split> validation() const override { return subsets_.validation; }
  std::shared_ptr<const ft::Split> test() const override { return subsets_.test; }

 protected:
  ft::DatasetInfo info_;
  ClassSubsets subsets_;
};

/// "N train, M validation, K test images, C classes" for the log.
inline std::string describe(const ClassSubsets& subsets) {
  return std::to_string(subsets.train_size) + " train, " + std::to_string(subsets.validation_size) + " validation, " +
         std::to_string(subsets.test_size) + " test images, " + std::to_string(subsets.classes.size()) + " classes";
}

}  // namespace ft_plugins
