// bert: a BERT encoder (embeddings, `num_layers` post-LayerNorm transformer layers, a pooler) with HuggingFace's
// BertModel parameter names, so that `save_pretrained` safetensors load as they are (scripts/export_weights.py).
// Sizes come from a HuggingFace `config.json` (`config = "path"`) or from parameters. The features are the pooler's
// output (`pooling = "pooler"`, BertForSequenceClassification's), the [CLS] vector (`"cls"`) or the mean over real
// tokens (`"mean"`); a task that scores every token (masked_lm) gets the last layer's vectors for every token.
#include <ftsdk/files.h>
#include <ftsdk/plugin.h>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

namespace {

using namespace ft::tensor_names;

struct BertConfig {
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 256;
  std::int64_t num_layers = 4;
  std::int64_t num_heads = 4;
  std::int64_t intermediate_size = 0;  // 4 x hidden_size unless given
  std::int64_t max_position = 512;
  std::int64_t type_vocab_size = 2;
  double dropout = 0.1;
  double attention_dropout = 0.1;
  double layer_norm_eps = 1e-12;
  std::int64_t pad_id = 0;
};

// HuggingFace's initialisation (BertPreTrainedModel._init_weights): N(0, 0.02) weights, zero biases, the padding
// token's embedding zero.
void init_linear(torch::nn::Linear& linear) {
  torch::NoGradGuard no_grad;
  linear->weight.normal_(0, 0.02);
  linear->bias.zero_();
}

struct SelfAttentionImpl : torch::nn::Module {
  SelfAttentionImpl(const BertConfig& c) : heads(c.num_heads), dropout(c.attention_dropout) {
    for (auto* linear : {&query, &key, &value}) *linear = torch::nn::Linear(c.hidden_size, c.hidden_size);
    register_module("query", query);
    register_module("key", key);
    register_module("value", value);
    for (auto* linear : {&query, &key, &value}) init_linear(*linear);
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed) {
    const auto n = x.size(0), t = x.size(1), width = x.size(2) / heads;
    auto split = [&](const torch::Tensor& y) { return y.view({n, t, heads, width}).transpose(1, 2); };
    const auto out = at::scaled_dot_product_attention(split(query(x)), split(key(x)), split(value(x)), allowed,
                                                      is_training() ? dropout : 0.0);
    return out.transpose(1, 2).reshape({n, t, heads * width});
  }
  std::int64_t heads;
  double dropout;
  torch::nn::Linear query{nullptr}, key{nullptr}, value{nullptr};
};
TORCH_MODULE(SelfAttention);

// A dense layer, dropout, and LayerNorm over the sum with the block's input (BertSelfOutput, BertOutput).
struct ResidualOutputImpl : torch::nn::Module {
  ResidualOutputImpl(std::int64_t in, const BertConfig& c)
      : dense(register_module("dense", torch::nn::Linear(in, c.hidden_size))),
        LayerNorm(register_module(
            "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))),
        dropout(register_module("dropout", torch::nn::Dropout(c.dropout))) {
    init_linear(dense);
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual) {
    return LayerNorm(dropout(dense(x)) + residual);
  }
  torch::nn::Linear dense;
  torch::nn::LayerNorm LayerNorm;
  torch::nn::Dropout dropout;
};
TORCH_MODULE(ResidualOutput);

struct AttentionImpl : torch::nn::Module {
  AttentionImpl(const BertConfig& c)
      : self(register_module("self", SelfAttention(c))),
        output(register_module("output", ResidualOutput(c.hidden_size, c))) {}
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed) { return output(self(x, allowed), x); }
  SelfAttention self;
  ResidualOutput output;
};
TORCH_MODULE(Attention);

struct IntermediateImpl : torch::nn::Module {
  IntermediateImpl(const BertConfig& c)
      : dense(register_module("dense", torch::nn::Linear(c.hidden_size, c.intermediate_size))) {
    init_linear(dense);
  }
  torch::Tensor forward(const torch::Tensor& x) { return torch::gelu(dense(x)); }  // exact (erf) GELU, BERT's
  torch::nn::Linear dense;
};
TORCH_MODULE(Intermediate);

struct LayerImpl : torch::nn::Module {
  LayerImpl(const BertConfig& c)
      : attention(register_module("attention", Attention(c))),
        intermediate(register_module("intermediate", Intermediate(c))),
        output(register_module("output", ResidualOutput(c.intermediate_size, c))) {}
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& allowed) {
    const auto attended = attention(x, allowed);
    return output(intermediate(attended), attended);
  }
  Attention attention;
  Intermediate intermediate;
  ResidualOutput output;
};
TORCH_MODULE(Layer);

struct EmbeddingsImpl : torch::nn::Module {
  EmbeddingsImpl(const BertConfig& c)
      : word_embeddings(register_module("word_embeddings", torch::nn::Embedding(c.vocab_size, c.hidden_size))),
        position_embeddings(
            register_module("position_embeddings", torch::nn::Embedding(c.max_position, c.hidden_size))),
        token_type_embeddings(
            register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, c.hidden_size))),
        LayerNorm(register_module(
            "LayerNorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))),
        dropout(register_module("dropout", torch::nn::Dropout(c.dropout))) {
    torch::NoGradGuard no_grad;
    for (auto* table : {&word_embeddings, &position_embeddings, &token_type_embeddings})
      (*table)->weight.normal_(0, 0.02);
    if (c.pad_id >= 0 && c.pad_id < c.vocab_size) word_embeddings->weight[c.pad_id].zero_();
  }
  torch::Tensor forward(const torch::Tensor& ids) {
    const auto positions = torch::arange(ids.size(1), ids.options());
    const auto types = torch::zeros_like(ids);
    return dropout(LayerNorm(word_embeddings(ids) + token_type_embeddings(types) + position_embeddings(positions)));
  }
  torch::nn::Embedding word_embeddings, position_embeddings, token_type_embeddings;
  torch::nn::LayerNorm LayerNorm;
  torch::nn::Dropout dropout;
};
TORCH_MODULE(Embeddings);

struct PoolerImpl : torch::nn::Module {
  PoolerImpl(const BertConfig& c) : dense(register_module("dense", torch::nn::Linear(c.hidden_size, c.hidden_size))) {
    init_linear(dense);
  }
  torch::Tensor forward(const torch::Tensor& first) { return torch::tanh(dense(first)); }
  torch::nn::Linear dense;
};
TORCH_MODULE(Pooler);

class Bert final : public ft::Backbone {
 public:
  Bert(const BertConfig& config, std::string pooling, bool per_token)
      : config_(config),
        pooling_(std::move(pooling)),
        per_token_(per_token),
        embeddings_(register_module("embeddings", Embeddings(config))),
        encoder_(register_module("encoder", std::make_shared<torch::nn::Module>())),
        layers_(encoder_->register_module("layer", torch::nn::ModuleList())),
        pooler_(register_module("pooler", Pooler(config))) {
    for (std::int64_t i = 0; i < config.num_layers; ++i) layers_->push_back(Layer(config));
  }

  std::vector<std::string> inputs() const override { return {kInputIds, kAttentionMask}; }

  torch::Tensor encode(const ft::Batch& batch) override {
    return features(batch.at(kInputIds), batch.at(kAttentionMask));
  }
  // Token ids alone: every position is a real token.
  torch::Tensor forward(torch::Tensor ids) override { return features(ids, torch::ones_like(ids)); }

  std::int64_t feature_size() const override { return config_.hidden_size; }

  // Embeddings, each encoder layer, the pooler: for layer-wise learning-rate decay.
  std::vector<std::vector<std::string>> stages() const override {
    std::vector<std::vector<std::string>> out = {{"embeddings"}};
    for (std::int64_t i = 0; i < config_.num_layers; ++i) out.push_back({"encoder.layer." + std::to_string(i)});
    out.push_back({"pooler"});
    return out;
  }

 private:
  torch::Tensor features(const torch::Tensor& ids, const torch::Tensor& mask) {
    if (ids.size(1) > config_.max_position) {
      throw ft::DataError("bert: sequences of " + std::to_string(ids.size(1)) + " tokens, but the model has " +
                          std::to_string(config_.max_position) + " positions (dataset.max_length)");
    }
    // [N, 1, 1, T]: which keys each query may attend to (padding is never attended to).
    const auto allowed = mask.to(torch::kBool).view({mask.size(0), 1, 1, mask.size(1)});
    auto x = embeddings_(ids);
    for (const auto& layer : *layers_) x = layer->as<LayerImpl>()->forward(x, allowed);
    if (per_token_) return x;
    if (pooling_ == "cls") return x.select(1, 0);
    if (pooling_ == "mean") {
      const auto weights = mask.to(x.scalar_type()).unsqueeze(-1);
      return (x * weights).sum(1) / weights.sum(1).clamp_min(1);
    }
    return pooler_(x.select(1, 0));
  }

  BertConfig config_;
  std::string pooling_;
  bool per_token_;
  Embeddings embeddings_;
  std::shared_ptr<torch::nn::Module> encoder_;
  torch::nn::ModuleList layers_;
  Pooler pooler_;
};

// Sizes from a HuggingFace config.json; parameters written in the experiment take precedence.
void read_config_json(const std::string& path, BertConfig& c) {
  ft::check_regular_file(path, "bert: config");
  std::ifstream in(path);
  if (!in)
    throw ft::DataError("bert: config " + path + " not found (a HuggingFace config.json, as save_pretrained writes)");
  nlohmann::json json;
  try {
    in >> json;
  } catch (const std::exception& e) {
    throw ft::DataError("bert: config " + path + " is not valid JSON: " + e.what());
  }
  auto take = [&](const char* key, auto& field) {
    if (json.contains(key) && !json[key].is_null()) field = json[key].get<std::decay_t<decltype(field)>>();
  };
  take("vocab_size", c.vocab_size);
  take("hidden_size", c.hidden_size);
  take("num_hidden_layers", c.num_layers);
  take("num_attention_heads", c.num_heads);
  take("intermediate_size", c.intermediate_size);
  take("max_position_embeddings", c.max_position);
  take("type_vocab_size", c.type_vocab_size);
  take("hidden_dropout_prob", c.dropout);
  take("attention_probs_dropout_prob", c.attention_dropout);
  take("layer_norm_eps", c.layer_norm_eps);
  take("pad_token_id", c.pad_id);
  if (json.contains("hidden_act") && json["hidden_act"] != "gelu") {
    throw ft::DataError("bert: config " + path + " uses hidden_act " + json["hidden_act"].dump() +
                        "; this backbone implements BERT's \"gelu\"");
  }
}

std::shared_ptr<ft::Backbone> make_bert(const ft::Params& params, const ft::BackboneContext& context) {
  BertConfig c;
  c.vocab_size = context.text.vocab_size;
  if (context.text.special_tokens.count("pad")) c.pad_id = context.text.special_tokens.at("pad");
  if (const auto path = params.optional<std::string>("config")) read_config_json(*path, c);
  c.hidden_size = params.get<std::int64_t>("hidden_size", c.hidden_size);
  c.num_layers = params.get<std::int64_t>("num_layers", c.num_layers);
  c.num_heads = params.get<std::int64_t>("num_heads", c.num_heads);
  c.intermediate_size =
      params.get<std::int64_t>("intermediate_size", c.intermediate_size ? c.intermediate_size : 4 * c.hidden_size);
  c.max_position = params.get<std::int64_t>("max_position", c.max_position);
  c.dropout = params.get_finite("dropout", c.dropout);
  c.attention_dropout = params.get_finite("attention_dropout", c.attention_dropout);
  const auto pooling = params.get<std::string>("pooling", "pooler");
  if (c.vocab_size <= 0) {
    throw ft::ConfigError(params.where().str() +
                          ": backbone 'bert' needs a text dataset (one with a vocabulary: "
                          "text_tsv, fortunes)");
  }
  if (context.text.vocab_size > 0 && c.vocab_size != context.text.vocab_size) {
    params.fail("config", "the config's vocabulary has " + std::to_string(c.vocab_size) +
                              " tokens, the dataset's tokenizer " + std::to_string(context.text.vocab_size) +
                              " (use the vocab.txt that came with the weights: dataset.tokenizer = \"wordpiece\", "
                              "dataset.vocab)");
  }
  if (c.hidden_size < 1 || c.num_heads < 1 || c.hidden_size % c.num_heads != 0) {
    params.fail("num_heads", "hidden_size (" + std::to_string(c.hidden_size) + ") must be a multiple of num_heads (" +
                                 std::to_string(c.num_heads) + ")");
  }
  if (c.num_layers < 1) params.fail("num_layers", "must be at least 1");
  if (c.intermediate_size < 1) params.fail("intermediate_size", "must be at least 1");
  if (context.text.max_length > c.max_position) {
    params.fail("max_position", "the dataset's texts have " + std::to_string(context.text.max_length) +
                                    " tokens, more than the model's " + std::to_string(c.max_position) + " positions");
  }
  if (c.dropout < 0 || c.dropout >= 1) params.fail("dropout", "must be in [0, 1)");
  if (c.attention_dropout < 0 || c.attention_dropout >= 1) params.fail("attention_dropout", "must be in [0, 1)");
  if (pooling != "pooler" && pooling != "cls" && pooling != "mean") {
    params.fail("pooling", "expected \"pooler\" (BERT's), \"cls\" or \"mean\"");
  }
  return std::make_shared<Bert>(c, pooling, context.per_token);
}

void register_components(ft::Registry& registry) { registry.add_backbone("bert", make_bert); }

}  // namespace

FT_PLUGIN("bert", "1.0.0", register_components)
