#pragma once
// Evaluates the test split once training ends, with the best checkpoint's weights by default (`train.test_weights
// = "best"`; "last" keeps the final weights), and records which: `test_weights_epoch` is the epoch whose weights
// gave `test_loss` and `test_accuracy`.

#include "data/batch_source.h"
#include "loop/callback.h"
#include "loop/evaluation.h"
#include "model/model.h"

#include <string>

namespace ft {

class ProcessGroup;

class TestEvaluation : public Callback {
 public:
  TestEvaluation(Classifier& model, const BatchSource& test, EvaluationSetup setup, std::string weights,
                 std::string best_path, ProcessGroup* group)
      : model_(model),
        test_(test),
        setup_(std::move(setup)),
        weights_(std::move(weights)),
        best_path_(std::move(best_path)),
        group_(group) {}
  void on_train_end(LoopState& state) override;

 private:
  Classifier& model_;
  const BatchSource& test_;
  EvaluationSetup setup_;
  std::string weights_, best_path_;
  ProcessGroup* group_;
};

}  // namespace ft
