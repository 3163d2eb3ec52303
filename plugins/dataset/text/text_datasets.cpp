// Text classification datasets: `text_tsv` (label and text per line, or JSON lines) and `fortunes` (Debian's
// fortune files, one category per file). Both tokenize every text once, when the dataset is made, to `input_ids`
// and `attention_mask` of `max_length` tokens ([CLS] ... [SEP], then [PAD]), held in memory with the `labels`.
//
// Tokenizers: `wordpiece` reads a BERT vocab.txt (`vocab`) and gives BertTokenizer's ids; `sentencepiece` loads a
// model (`vocab`) or trains one of `vocab_size` pieces on the training texts (or those of `tokenizer_categories`,
// so that the stages of an experiment share one vocabulary), cached in the store's dataset cache by a hash of its
// text and options.
#include "../common/class_subsets.h"
#include "../common/stored_dataset.h"
#include "sentencepiece_tokenizer.h"
#include "text_corpus.h"
#include "wordpiece.h"

#include <ftsdk/plugin.h>

#include <torch/torch.h>

#include <filesystem>
#include <map>

namespace fs = std::filesystem;

namespace {

using namespace ft::tensor_names;
using ft_plugins::Document;

std::uint64_t fnv1a(const std::string& text, std::uint64_t hash = 1469598103934665603ull) {
  for (const unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

struct TokenizerOptions {
  std::string type;
  std::string vocab;  // vocab.txt, or a SentencePiece .model
  std::int64_t vocab_size = 4000;
  bool lower_case = true;
};

TokenizerOptions read_tokenizer_options(const ft::Params& params) {
  TokenizerOptions options;
  options.type = params.get<std::string>("tokenizer", "sentencepiece");
  if (options.type != "wordpiece" && options.type != "sentencepiece") {
    params.fail("tokenizer", "expected \"wordpiece\" (a BERT vocab.txt) or \"sentencepiece\"");
  }
  options.vocab = params.get<std::string>("vocab", "");
  options.lower_case = params.get<bool>("lower_case", true);
  if (options.type == "wordpiece" && options.vocab.empty()) {
    params.fail("vocab",
                "the wordpiece tokenizer needs a BERT vocab.txt (scripts/export_weights.py writes one beside "
                "a HuggingFace model's weights)");
  }
  if (options.type == "sentencepiece" && options.vocab.empty()) {
    options.vocab_size = params.get<std::int64_t>("vocab_size", options.vocab_size);
    if (options.vocab_size < 16 || options.vocab_size > 1000000) params.fail("vocab_size", "must be 16..1000000");
  }
  return options;
}

// The tokenizer the options ask for; a SentencePiece model is trained on `texts` when none is given, or reused from
// the cache when one was trained on the same texts with the same options.
std::unique_ptr<ft_plugins::Tokenizer> make_tokenizer(const TokenizerOptions& options,
                                                      const std::vector<std::string>& texts,
                                                      const ft::DatasetContext& context) {
  if (options.type == "wordpiece")
    return std::make_unique<ft_plugins::WordPieceTokenizer>(options.vocab, options.lower_case);
  if (!options.vocab.empty()) return std::make_unique<ft_plugins::SentencePieceTokenizer>(options.vocab);
  std::uint64_t hash =
      fnv1a("sentencepiece unigram 1|" + std::to_string(options.vocab_size) + "|" + std::to_string(options.lower_case));
  for (const auto& text : texts) hash = fnv1a(text + '\x1e', hash);
  const fs::path folder =
      context.cache_dir.empty() ? fs::temp_directory_path() / "ftrun-dataset-cache" : fs::path(context.cache_dir);
  char name[64];
  std::snprintf(name, sizeof name, "sentencepiece-%016llx.model", static_cast<unsigned long long>(hash));
  const std::string file = (folder / "tokenizers" / name).string();
  std::error_code error;
  const bool trained_before = fs::exists(file, error);
  if (!trained_before) ft_plugins::SentencePieceTokenizer::train(texts, options.vocab_size, options.lower_case, file);
  auto tokenizer = std::make_unique<ft_plugins::SentencePieceTokenizer>(file);
  context.log.info("tokenizer: SentencePiece, " + std::to_string(tokenizer->vocab_size()) + " pieces (at most " +
                   std::to_string(options.vocab_size) + "), " +
                   (trained_before ? "trained earlier on the same " : "trained now on ") +
                   std::to_string(texts.size()) + " texts: " + file);
  return tokenizer;
}

// The documents at `picked` as an in-memory split of token ids, masks and labels.
std::shared_ptr<const ft::Split> tokenized_split(const std::vector<Document>& documents,
                                                 const std::vector<std::int64_t>& picked,
                                                 const std::vector<std::int64_t>& labels,
                                                 const ft_plugins::Tokenizer& tokenizer, std::int64_t max_length) {
  const auto n = static_cast<std::int64_t>(picked.size());
  auto ids = torch::empty({n, max_length}, torch::kLong);
  auto mask = torch::empty({n, max_length}, torch::kLong);
  auto classes = torch::empty({n}, torch::kLong);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto index = static_cast<std::size_t>(picked[static_cast<std::size_t>(i)]);
    const auto encoding = tokenizer.encode(documents[index].text, max_length);
    std::copy(encoding.input_ids.begin(), encoding.input_ids.end(), ids[i].data_ptr<std::int64_t>());
    std::copy(encoding.attention_mask.begin(), encoding.attention_mask.end(), mask[i].data_ptr<std::int64_t>());
    classes[i] = labels[index];
  }
  return std::make_shared<ft::TensorSplit>(
      ft::NamedTensors{{kInputIds, ids}, {kAttentionMask, mask}, {kLabels, classes}});
}

// Labelled documents made into tokenized train, validation and test splits, with the image datasets' options:
// classes (a subset, by name, relabelled in the order given), samples_per_class, validation_fraction,
// test_fraction (when there is no test file), seed.
class TextDataset final : public ft_plugins::StoredDataset {
 public:
  TextDataset(const ft::Params& params, const ft::DatasetContext& context, std::vector<Document> train,
              std::vector<Document> test, std::vector<std::string> class_order,
              const std::vector<Document>* tokenizer_text) {
    // Classes: those given, in their order, or every label (sorted for text_tsv, the categories' order for fortunes).
    std::vector<std::string> names = params.get<std::vector<std::string>>("classes", class_order);
    if (names.size() < 2) params.fail("classes", "needs at least two classes");
    std::map<std::string, std::int64_t> index;
    for (const auto& name : names) {
      if (!index.emplace(name, static_cast<std::int64_t>(index.size())).second) {
        params.fail("classes", "lists \"" + name + "\" twice");
      }
    }
    auto labels_of = [&](const std::vector<Document>& documents) {
      std::vector<std::int64_t> labels;
      for (const auto& document : documents) {
        auto it = index.find(document.label);
        labels.push_back(it == index.end() ? -1 : it->second);
      }
      return labels;
    };
    const auto train_labels = labels_of(train), test_labels = labels_of(test);
    for (const auto& name : names) {
      if (std::find(class_order.begin(), class_order.end(), name) == class_order.end()) {
        params.fail("classes", "no document has the label \"" + name + "\"");
      }
    }
    const auto limit = params.optional<std::int64_t>("samples_per_class");
    const double validation_fraction = params.get_finite("validation_fraction", 0.1);
    const double test_fraction = params.get_finite("test_fraction", test.empty() ? 0.1 : 0.0);
    const auto seed =
        static_cast<std::uint64_t>(params.get<std::int64_t>("seed", static_cast<std::int64_t>(context.seed)));
    const std::int64_t max_length = params.get<std::int64_t>("max_length", 128);
    if (limit && *limit < 1) params.fail("samples_per_class", "must be at least 1");
    if (validation_fraction < 0 || validation_fraction >= 1) params.fail("validation_fraction", "must be in [0, 1)");
    if (test_fraction < 0 || test_fraction + validation_fraction >= 1) {
      params.fail("test_fraction", "must be in [0, 1 - validation_fraction)");
    }
    if (!test.empty() && params.contains("test_fraction")) {
      params.fail("test_fraction", "the dataset has a test file; test_fraction is for data without one");
    }
    if (max_length < 8 || max_length > 4096) params.fail("max_length", "must be 8..4096");
    const auto tokenizer_options = read_tokenizer_options(params);

    std::vector<std::int64_t> classes(names.size());
    std::iota(classes.begin(), classes.end(), 0);
    const auto picked =
        ft_plugins::pick_by_class(train_labels, test_labels, classes, limit, validation_fraction, test_fraction, seed);
    // The tokenizer learns from training text only (or the text it is told to), never from validation or test.
    std::vector<std::string> texts;
    if (tokenizer_text) {
      for (const auto& document : *tokenizer_text) texts.push_back(document.text);
    } else {
      for (const auto i : picked.train) texts.push_back(train[static_cast<std::size_t>(i)].text);
    }
    const auto tokenizer = make_tokenizer(tokenizer_options, texts, context);

    train_ = tokenized_split(train, picked.train, train_labels, *tokenizer, max_length);
    if (!picked.validation.empty()) {
      validation_ = tokenized_split(train, picked.validation, train_labels, *tokenizer, max_length);
    }
    // Test documents come from the test file when there is one, else from the training documents.
    if (!picked.test.empty()) {
      test_ = test.empty() ? tokenized_split(train, picked.test, train_labels, *tokenizer, max_length)
                           : tokenized_split(test, picked.test, test_labels, *tokenizer, max_length);
    }
    info_.num_classes = static_cast<std::int64_t>(names.size());
    info_.class_names = names;
    info_.tensors = {kInputIds, kAttentionMask, kLabels};
    info_.text.vocab_size = tokenizer->vocab_size();
    info_.text.max_length = max_length;
    info_.text.special_tokens = tokenizer->special_tokens();
    context.log.info(std::to_string(picked.train.size()) + " train, " + std::to_string(picked.validation.size()) +
                     " validation, " + std::to_string(picked.test.size()) + " test texts, " +
                     std::to_string(names.size()) + " classes, vocabulary " + std::to_string(info_.text.vocab_size) +
                     ", " + std::to_string(max_length) + " tokens each");
  }
};

std::vector<std::string> sorted_labels(const std::vector<Document>& documents) {
  std::vector<std::string> labels;
  for (const auto& document : documents) labels.push_back(document.label);
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  return labels;
}

std::shared_ptr<ft::Dataset> make_text_tsv(const ft::Params& params, const ft::DatasetContext& context) {
  const auto path = params.required<std::string>("path");
  const auto label_key = params.get<std::string>("label_key", "label");
  const auto text_key = params.get<std::string>("text_key", "text");
  auto train = ft_plugins::read_labelled_text(path, label_key, text_key);
  std::vector<Document> test;
  if (const auto test_path = params.optional<std::string>("test_path")) {
    test = ft_plugins::read_labelled_text(*test_path, label_key, text_key);
  }
  if (train.empty()) throw ft::DataError(path + ": no documents");
  std::optional<std::vector<Document>> tokenizer_text;
  if (const auto file = params.optional<std::string>("tokenizer_text")) {
    tokenizer_text = ft_plugins::read_labelled_text(*file, label_key, text_key);
  }
  auto labels = sorted_labels(train);
  return std::make_shared<TextDataset>(params, context, std::move(train), std::move(test), std::move(labels),
                                       tokenizer_text ? &*tokenizer_text : nullptr);
}

std::shared_ptr<ft::Dataset> make_fortunes(const ft::Params& params, const ft::DatasetContext& context) {
  const auto folder = params.get<std::string>("folder", "/usr/share/games/fortunes");
  const auto categories = params.get<std::vector<std::string>>("categories", ft_plugins::fortune_categories(folder));
  if (categories.size() < 2) params.fail("categories", "needs at least two categories");
  auto documents = ft_plugins::read_fortunes(folder, categories);
  std::optional<std::vector<Document>> tokenizer_text;
  if (const auto others = params.optional<std::vector<std::string>>("tokenizer_categories")) {
    tokenizer_text = ft_plugins::read_fortunes(folder, *others);
  }
  return std::make_shared<TextDataset>(params, context, std::move(documents), std::vector<Document>{}, categories,
                                       tokenizer_text ? &*tokenizer_text : nullptr);
}

void register_components(ft::Registry& registry) {
  registry.add_dataset("text_tsv", make_text_tsv);
  registry.add_dataset("fortunes", make_fortunes);
}

}  // namespace

FT_PLUGIN("text", "1.0.0", register_components)
