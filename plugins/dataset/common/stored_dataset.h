#pragma once
// A dataset whose description and splits are made once, in its constructor: a subclass fills `info_` and the splits
// (validation and test may stay null).

#include <ftsdk/dataset.h>

#include <memory>

namespace ft_plugins {

class StoredDataset : public ft::Dataset {
 public:
  ft::DatasetInfo info() const override { return info_; }
  std::shared_ptr<const ft::Split> train() const override { return train_; }
  std::shared_ptr<const ft::Split> validation() const override { return validation_; }
  std::shared_ptr<const ft::Split> test() const override { return test_; }

 protected:
  ft::DatasetInfo info_;
  std::shared_ptr<const ft::Split> train_, validation_, test_;
};

}  // namespace ft_plugins
