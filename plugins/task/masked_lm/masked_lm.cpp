// masked_lm: BERT's masked language model, so that pretraining a text backbone is an experiment like any other.
// Each batch masks `mask_prob` of its real tokens (never [CLS], [SEP] or padding); of those, `mask_replace` become
// [MASK], half the rest a random token, the others stay (HuggingFace's DataCollatorForLanguageModeling, 80/10/10 by
// default). The loss is cross-entropy on the masked positions only; the primary metric is perplexity, exp(loss),
// then the accuracy of the masked predictions.
#include <ftsdk/plugin.h>

#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

#include <cmath>

namespace {

using namespace ft::tensor_names;

constexpr std::int64_t kIgnore = -100;  // targets of positions that are not scored, as in HuggingFace

struct MaskOptions {
  double mask_prob = 0.15;
  double mask_replace = 0.8;
};

class MaskedLanguageModel final : public ft::Task {
 public:
  MaskedLanguageModel(MaskOptions options, ft::TextInfo text) : options_(options), text_(std::move(text)) {}

  std::vector<ft::MetricSpec> metrics() const override { return {{"perplexity", false}, {"accuracy", true}}; }
  std::int64_t num_outputs() const override { return text_.vocab_size; }
  ft::FeatureShape feature_shape() const override { return ft::FeatureShape::per_token; }
  std::vector<std::string> reads() const override { return {kInputIds, kAttentionMask}; }

  void prepare(ft::Batch& batch, at::Generator& generator) const override {
    const auto& ids = batch.at(kInputIds);
    const auto device = ids.device();
    // Drawn on the host from the run's generator (reproducible, resumable), then moved.
    const auto cpu_ids = ids.cpu();
    auto candidates = batch.at(kAttentionMask).cpu().eq(1);
    for (const char* name : {"cls", "sep", "pad"}) candidates &= cpu_ids.ne(text_.special_tokens.at(name));
    const auto uniform = [&] { return at::rand(cpu_ids.sizes(), generator, torch::kFloat32); };
    const auto masked = uniform().lt(options_.mask_prob) & candidates;
    const auto replaced = uniform().lt(options_.mask_replace) & masked;
    // Half of what is neither kept as [MASK] nor left alone: 10 % and 10 % with the defaults.
    const auto randomised = uniform().lt(0.5) & masked & replaced.logical_not();
    const auto random_tokens = at::randint(text_.vocab_size, cpu_ids.sizes(), generator, torch::kLong);
    auto inputs = cpu_ids.masked_fill(replaced, text_.special_tokens.at("mask"));
    inputs = torch::where(randomised, random_tokens, inputs);
    batch[kTargets] = cpu_ids.masked_fill(masked.logical_not(), kIgnore).to(device);
    batch[kInputIds] = inputs.to(device);
  }

  // Only the masked positions reach the head: [M, hidden] instead of [N, T, hidden], so the vocabulary-wide
  // output layer does 1/0.15 times less work than HuggingFace's BertForMaskedLM, which scores every position.
  // (masked_select's size depends on the data: one sync per batch, and no CUDA graph.)
  torch::Tensor select(const torch::Tensor& features, const ft::Batch& batch) const override {
    if (features.dim() != 3) return features;  // already one vector per scored token
    return features.index({batch.at(kTargets).ne(kIgnore)});
  }

  torch::Tensor loss(const torch::Tensor& outputs, const ft::Batch& batch) const override {
    const auto targets = scored_targets(outputs, batch);
    // The mean over scored tokens; a batch without any (possible, if unlikely) gives 0, not NaN.
    const auto sum = torch::nn::functional::cross_entropy(
        outputs.reshape({-1, outputs.size(-1)}), targets,
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnore).reduction(torch::kSum));
    return sum / targets.ne(kIgnore).sum().clamp_min(1).to(sum.scalar_type());
  }

  torch::Tensor metric_sums(const torch::Tensor& outputs, const ft::Batch& batch) const override {
    const auto targets = scored_targets(outputs, batch);
    const auto scored = targets.ne(kIgnore);
    const auto correct = outputs.reshape({-1, outputs.size(-1)}).argmax(-1).eq(targets) & scored;
    // Perplexity is no mean of per-token values (metric_values makes it from the loss): its sum is a placeholder.
    const auto count = scored.sum();
    return torch::stack({count, torch::zeros_like(count), correct.sum()}).to(torch::kFloat64);
  }

  // The targets matching `outputs`: those of the selected positions, or all of them, flattened.
  static torch::Tensor scored_targets(const torch::Tensor& outputs, const ft::Batch& batch) {
    const auto& targets = batch.at(kTargets);
    if (outputs.dim() == 2 && outputs.size(0) != targets.numel()) return targets.masked_select(targets.ne(kIgnore));
    return targets.reshape({-1});
  }

  std::vector<double> metric_values(const std::vector<double>& sums, double mean_loss) const override {
    return {std::exp(mean_loss), sums[0] > 0 ? sums[2] / sums[0] : 0.0};
  }

 private:
  MaskOptions options_;
  ft::TextInfo text_;
};

std::shared_ptr<ft::Task> make_masked_lm(const ft::Params& params, const ft::TaskContext& context) {
  const auto& text = context.dataset.text;
  if (text.vocab_size <= 0) {
    throw ft::ConfigError(params.where().str() +
                          ": task 'masked_lm' needs a text dataset (one with a vocabulary: text_tsv, fortunes)");
  }
  MaskOptions options;
  options.mask_prob = params.get_finite("mask_prob", options.mask_prob);
  options.mask_replace = params.get_finite("mask_replace", options.mask_replace);
  if (options.mask_prob <= 0 || options.mask_prob >= 1) params.fail("mask_prob", "must be in (0, 1)");
  if (options.mask_replace < 0 || options.mask_replace > 1) params.fail("mask_replace", "must be in [0, 1]");
  for (const char* name : {"cls", "sep", "pad", "mask"}) {
    if (!text.special_tokens.count(name)) {
      throw ft::ConfigError(params.where().str() + ": task 'masked_lm': the dataset's tokenizer has no '" + name +
                            "' token");
    }
  }
  return std::make_shared<MaskedLanguageModel>(options, text);
}

void register_components(ft::Registry& registry) { registry.add_task("masked_lm", make_masked_lm); }

}  // namespace

FT_PLUGIN("masked_lm", "1.0.0", register_components)
