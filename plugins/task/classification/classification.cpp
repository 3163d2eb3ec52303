// classification: one class per example, the built-in default task. Targets are the dataset's labels (mixup may
// turn them into class probabilities), the loss is cross-entropy, the metric top-1 accuracy on the labels.
#include <ftsdk/plugin.h>

#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

namespace {

using namespace ft::tensor_names;

class Classification final : public ft::Task {
 public:
  explicit Classification(std::int64_t classes) : classes_(classes) {}

  std::vector<ft::MetricSpec> metrics() const override { return {{"accuracy", true}}; }
  std::int64_t num_outputs() const override { return classes_; }

  void prepare(ft::Batch& batch, at::Generator&) const override { batch[kTargets] = batch.at(kLabels); }

  torch::Tensor loss(const torch::Tensor& logits, const ft::Batch& batch) const override {
    return torch::nn::functional::cross_entropy(logits, batch.at(kTargets));
  }

  torch::Tensor metric_sums(const torch::Tensor& logits, const ft::Batch& batch) const override {
    const auto& labels = batch.at(kLabels);
    const auto examples = torch::full({1}, static_cast<double>(labels.size(0)),
                                      torch::TensorOptions().dtype(torch::kFloat64).device(logits.device()));
    return torch::cat({examples, logits.argmax(1).eq(labels).sum().to(torch::kFloat64).reshape({1})});
  }

 private:
  std::int64_t classes_;
};

std::shared_ptr<ft::Task> make_classification(const ft::Params&, const ft::TaskContext& context) {
  return std::make_shared<Classification>(context.dataset.num_classes);
}

void register_components(ft::Registry& registry) { registry.add_task("classification", make_classification); }

}  // namespace

FT_PLUGIN("classification", "1.0.0", register_components)
