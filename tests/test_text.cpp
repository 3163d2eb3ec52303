// Text: the corpus readers, WordPiece against HuggingFace's BertTokenizer on every document of the fortunes corpus,
// SentencePiece trained and cached, the text datasets' splits, the masked_lm task's masking, and the bert backbone
// against transformers' BertModel.
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "reference_script.h"
#include "sentencepiece_tokenizer.h"
#include "temp_dir.h"
#include "text_corpus.h"
#include "wordpiece.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using Catch::Matchers::Contains;
using namespace ft::tensor_names;

namespace {

const std::string kFortunes = "/usr/share/games/fortunes";

struct Plugins {
  ft::PluginCatalog catalog;
  ft::log::ComponentLogger log{"test"};
  Plugins() {
    for (const char* file :
         {"ft_text.so", "ft_masked_lm.so", "ft_bert.so", "ft_classification.so", "ft_linear_head.so"}) {
      catalog.load_file(std::string(FT_PLUGIN_DIR) + "/" + file);
    }
  }
};

ft::Params params_of(const std::string& section, const std::vector<std::pair<std::string, ft::ParamValue>>& values) {
  ft::Params params(section);
  for (const auto& [key, value] : values) params.set(key, value);
  return params;
}

double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kFloat64), e = expected.to(torch::kFloat64);
  return ((a - e).abs().max() / (e.abs().max() + 1e-12)).item<double>();
}

}  // namespace

TEST_CASE("the corpus readers parse TSV, JSON lines and fortune files, and name the line of a bad one", "[text]") {
  const auto tsv = ft_plugins::parse_labelled_text("pos\ta fine film\n\nneg\tdull, long\r\n", "reviews.tsv", false);
  REQUIRE(tsv.size() == 2);
  CHECK(tsv[1].label == "neg");
  CHECK(tsv[1].text == "dull, long");
  const auto json = ft_plugins::parse_labelled_text(
      "{\"label\": 1, \"text\": \"x\"}\n{\"label\": \"b\", \"text\": \"y\\tz\"}\n", "r.jsonl", true);
  REQUIRE(json.size() == 2);
  CHECK(json[0].label == "1");
  CHECK(json[1].text == "y\tz");
  CHECK_THROWS_WITH(ft_plugins::parse_labelled_text("pos\tok\nno tab here\n", "r.tsv", false),
                    Contains("r.tsv:2: expected a label, a tab, then the text"));
  CHECK_THROWS_WITH(ft_plugins::parse_labelled_text("{\"label\": 1}\n", "r.jsonl", true),
                    Contains("r.jsonl:1: no \"text\" key"));
  const auto entries = ft_plugins::parse_fortunes("one\n  line two\n%\n%\n\nthree  \n\n%\n", "misc");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].text == "one\n  line two");
  CHECK(entries[1].text == "\nthree");
  CHECK(entries[1].label == "misc");
  CHECK_THROWS_WITH(ft_plugins::read_fortunes("/nowhere/fortunes", {"science"}), Contains("apt-get install fortunes"));
}

TEST_CASE("folders where text files, a vocabulary or a tokenizer model belong are data errors naming them", "[text]") {
  TempDir dir;
  for (const std::string name : {"reviews.tsv", "vocab.txt", "spm.model"})
    std::filesystem::create_directories(dir / name);
  CHECK_THROWS_MATCHES(ft_plugins::read_labelled_text(dir / "reviews.tsv", "label", "text"), ft::DataError,
                       Catch::Matchers::Message("text file " + (dir / "reviews.tsv") + " is a folder, not a file"));
  CHECK_THROWS_WITH(ft_plugins::WordPieceTokenizer(dir / "vocab.txt", true),
                    Contains("WordPiece vocabulary " + (dir / "vocab.txt") + " is a folder"));
  CHECK_THROWS_WITH(ft_plugins::SentencePieceTokenizer(dir / "spm.model"),
                    Contains("SentencePiece model " + (dir / "spm.model") + " is a folder"));
}

TEST_CASE("WordPiece gives BertTokenizer's ids on every document of the fortunes corpus", "[text][tokenizer]") {
  REQUIRE(std::filesystem::is_directory(kFortunes));  // scripts/setup installs Debian's fortunes
  auto documents = ft_plugins::read_fortunes(kFortunes, ft_plugins::fortune_categories(kFortunes));
  REQUIRE(documents.size() > 10000);
  // And what the corpus lacks: accents, other scripts, CJK, controls, full-width and odd whitespace, a long word.
  for (const std::string& text : std::vector<std::string>{
           "Héllo Wörld! Ça va? naïve café", "İstanbul ΣΑΣ Straße", "中文字符 and 日本語テキスト",
           "tab\tand\x08 back\x7f space\u00a0nbsp\u2003em", "ｆｕｌｌ－ｗｉｄｔｈ", "a-b_c.d,e;f:g!h?",
           "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x80\x94 dash", std::string(120, 'x')}) {
    documents.push_back({"extra", text});
  }
  TempDir dir;
  nlohmann::json texts = nlohmann::json::array();
  for (const auto& document : documents) texts.push_back(document.text);
  std::ofstream(dir / "documents.json") << texts.dump();
  ftrun_test::run_reference_script("bert_tokenizer.py", dir.path().string());
  nlohmann::json expected;
  std::ifstream(dir / "ids.json") >> expected;
  REQUIRE(expected.size() == documents.size());

  const ft_plugins::WordPieceTokenizer tokenizer(dir / "vocab.txt");
  CHECK(tokenizer.special_tokens().at("mask") == 4);
  std::size_t differing = 0, unknown = 0;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    const auto tokens = tokenizer.tokenize(documents[i].text);
    const auto encoding = tokenizer.encode(documents[i].text, 64);
    unknown += static_cast<std::size_t>(std::count(tokens.begin(), tokens.end(), 1));
    const bool same = tokens == expected[i]["tokens"].get<std::vector<std::int64_t>>() &&
                      encoding.input_ids == expected[i]["input_ids"].get<std::vector<std::int64_t>>() &&
                      encoding.attention_mask == expected[i]["attention_mask"].get<std::vector<std::int64_t>>();
    if (!same && differing++ < 3) {
      UNSCOPED_INFO("document " << i << ": " << documents[i].text
                                << "\n  words: " << nlohmann::json(tokenizer.words(documents[i].text)).dump()
                                << "\n  ours: " << nlohmann::json(tokens).dump()
                                << "\n  BertTokenizer: " << expected[i]["tokens"].dump());
    }
  }
  CHECK(differing == 0);
  CHECK(unknown > 0);  // the extra texts' scripts are not in the vocabulary: [UNK] is exercised too
}

TEST_CASE("the fortunes dataset splits by category, and its SentencePiece vocabulary is trained once and reused",
          "[text]") {
  Plugins plugins;
  TempDir cache;
  const auto params = [] {
    return params_of("dataset", {{"categories", ft::to_param_value(std::vector<std::string>{"science", "sports"})},
                                 {"vocab_size", ft::to_param_value(std::int64_t{400})},
                                 {"max_length", ft::to_param_value(std::int64_t{32})},
                                 {"samples_per_class", ft::to_param_value(std::int64_t{5})},
                                 {"tokenizer_categories",
                                  ft::to_param_value(std::vector<std::string>{"computers", "law", "food"})}});
  };
  const ft::DatasetContext context{3, plugins.log, cache.path().string()};
  const auto dataset = plugins.catalog.make_dataset("fortunes", params(), context);
  const auto info = dataset->info();
  CHECK(info.num_classes == 2);
  CHECK(info.class_names == std::vector<std::string>{"science", "sports"});
  CHECK(info.text.vocab_size == 400);
  CHECK(info.text.special_tokens ==
        std::map<std::string, std::int64_t>{{"pad", 0}, {"unk", 1}, {"cls", 2}, {"sep", 3}, {"mask", 4}});
  CHECK(info.tensors == std::vector<std::string>{kInputIds, kAttentionMask, kLabels});
  const auto train = dataset->train()->tensors();
  REQUIRE(train);
  CHECK(train->at(kInputIds).sizes() == torch::IntArrayRef({10, 32}));   // 5 per class
  CHECK(train->at(kInputIds).select(1, 0).eq(2).all().item().toBool());  // [CLS] first
  CHECK(torch::equal(train->at(kLabels).bincount(), torch::tensor({5, 5})));
  // 625 science and 147 sports entries: 10 % of each to test, 10 % to validation.
  CHECK(dataset->test()->size() == 63 + 15);
  CHECK(dataset->validation()->size() == 63 + 15);

  std::vector<std::filesystem::path> models;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(cache.path())) {
    if (entry.path().extension() == ".model") models.push_back(entry.path());
  }
  REQUIRE(models.size() == 1);
  const auto written = std::filesystem::last_write_time(models[0]);
  const auto again = plugins.catalog.make_dataset("fortunes", params(), context);
  CHECK(std::filesystem::last_write_time(models[0]) == written);
  CHECK(torch::equal(again->train()->tensors()->at(kInputIds), train->at(kInputIds)));

  auto missing = params();
  missing.set("folder", ft::to_param_value(std::string("/nowhere")));
  CHECK_THROWS_WITH(plugins.catalog.make_dataset("fortunes", missing, context), Contains("apt-get install fortunes"));
  auto typo = params();
  typo.set("categories", ft::to_param_value(std::vector<std::string>{"science", "sport"}));
  CHECK_THROWS_WITH(plugins.catalog.make_dataset("fortunes", typo, context),
                    Contains("fortunes category 'sport' not found"));
}

TEST_CASE("masked_lm masks 15 % of the real tokens, 80/10/10, and scores only them", "[text][task]") {
  Plugins plugins;
  ft::DatasetInfo info;
  info.tensors = {kInputIds, kAttentionMask, kLabels};
  info.text.vocab_size = 1000;
  info.text.max_length = 64;
  info.text.special_tokens = {{"pad", 0}, {"unk", 1}, {"cls", 2}, {"sep", 3}, {"mask", 4}};
  const auto task = plugins.catalog.make_task("masked_lm", ft::Params("task"), {info, plugins.log});
  CHECK(task->num_outputs() == 1000);
  CHECK(task->metrics().front().name == "perplexity");
  CHECK_FALSE(task->metrics().front().higher_is_better);

  auto ids = torch::randint(5, 1000, {400, 64}, torch::kLong);
  auto mask = torch::ones({400, 64}, torch::kLong);
  mask.slice(1, 48) = 0;
  ids.slice(1, 48) = 0;
  ids.select(1, 0) = 2;
  ids.select(1, 47) = 3;
  ft::Batch batch{{kInputIds, ids.clone()}, {kAttentionMask, mask}};
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  task->prepare(batch, generator);
  const auto& targets = batch.at(kTargets);
  const auto scored = targets.ne(-100);
  const double candidates = 400.0 * 46;
  CHECK(scored.sum().item<double>() / candidates == Approx(0.15).margin(0.01));
  CHECK_FALSE((scored & ids.lt(5)).any().item().toBool());  // never [CLS], [SEP] or padding
  CHECK(torch::equal(targets.masked_select(scored), ids.masked_select(scored)));
  const auto inputs = batch.at(kInputIds);
  const double n = scored.sum().item<double>();
  CHECK(inputs.eq(4).logical_and(scored).sum().item<double>() / n == Approx(0.8).margin(0.02));
  CHECK(inputs.eq(ids).logical_and(scored).sum().item<double>() / n == Approx(0.1).margin(0.02));
  CHECK(torch::equal(inputs.masked_select(scored.logical_not()), ids.masked_select(scored.logical_not())));

  // Perfect predictions of the scored tokens: loss near 0, perplexity near 1, accuracy 1.
  auto outputs = torch::full({400, 64, 1000}, -20.0f);
  outputs.scatter_(2, ids.unsqueeze(2), 20.0f);
  const auto loss = task->loss(outputs, batch).item<double>();
  CHECK(loss < 1e-6);
  const auto sums = task->metric_sums(outputs, batch);
  REQUIRE(sums.numel() == 3);  // weight, then one per metric
  const auto values =
      task->metric_values({sums[0].item<double>(), sums[1].item<double>(), sums[2].item<double>()}, loss);
  // Only the masked positions reach the head.
  CHECK(task->select(torch::zeros({400, 64, 8}), batch).sizes() ==
        torch::IntArrayRef({scored.sum().item<std::int64_t>(), 8}));
  CHECK(values[0] == Approx(1.0));
  CHECK(values[1] == Approx(1.0));
  // Another generator draws other masks; the same seed the same ones (resume and evaluation rely on it).
  ft::Batch again{{kInputIds, ids.clone()}, {kAttentionMask, mask}};
  auto same = at::make_generator<at::CPUGeneratorImpl>(1);
  task->prepare(again, same);
  CHECK(torch::equal(again.at(kTargets), targets));
}

TEST_CASE("bert matches transformers' BertModel in eval mode and after one training step", "[text][parity]") {
  TempDir dir;
  ftrun_test::run_reference_script("bert_parity.py", dir.path().string());
  const auto reference = ft::load_tensors(dir / "reference.safetensors");
  const auto weights = ft::load_tensors(dir / "weights.safetensors");
  at::set_num_threads(1);
  Plugins plugins;
  const auto config = params_of("backbone", {{"config", ft::to_param_value(std::string(dir / "config.json"))}});
  ft::BackboneContext pooled_context{{}, plugins.log, {}, false};
  pooled_context.text.vocab_size = 100;
  pooled_context.text.max_length = 12;
  ft::BackboneContext token_context = pooled_context;
  token_context.per_token = true;
  auto make = [&](const ft::BackboneContext& context) {
    auto backbone = plugins.catalog.make_backbone("bert", config, context);
    auto head = plugins.catalog.make_head("linear", ft::Params("head"), {backbone->feature_size(), 2, plugins.log});
    auto model = std::make_shared<ft::Classifier>(backbone, head);
    ft::load_backbone_weights(*model, weights, "transformers", plugins.log);
    return model;
  };
  const auto pooled = make(pooled_context), tokens = make(token_context);
  const ft::Batch batch{{kInputIds, reference.at("input_ids")}, {kAttentionMask, reference.at("attention_mask")}};
  {
    torch::NoGradGuard no_grad;
    pooled->set_training(false);
    tokens->set_training(false);
    CHECK(relative_error(pooled->backbone().encode(batch), reference.at("pooled_eval")) <= 1e-4);
    CHECK(relative_error(tokens->backbone().encode(batch), reference.at("hidden_eval")) <= 1e-4);
  }
  pooled->set_training(true);
  torch::optim::SGD optimizer(pooled->backbone().parameters(), torch::optim::SGDOptions(0.1));
  (pooled->backbone().encode(batch) * reference.at("probe")).sum().backward();
  optimizer.step();
  const auto state = pooled->state();
  std::size_t compared = 0;
  for (const auto& [name, expected] : reference) {
    if (name.rfind("updated.", 0) != 0) continue;
    const auto actual = state.find("backbone." + name.substr(8));
    INFO(name);
    REQUIRE(actual != state.end());
    CHECK(relative_error(actual->second, expected) <= 1e-4);
    ++compared;
  }
  CHECK(compared == weights.size());
}
