#include "sentencepiece_tokenizer.h"

#include <ftsdk/files.h>

#include <ftsdk/error.h>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <unordered_map>

namespace fs = std::filesystem;

namespace ft_plugins {
namespace {

// Hands SentencePiece's trainer the texts from memory, one "sentence" per text (newlines made spaces: it reads
// lines).
class TextIterator final : public sentencepiece::SentenceIterator {
 public:
  explicit TextIterator(const std::vector<std::string>& texts) : texts_(texts) { load(); }
  bool done() const override { return index_ >= texts_.size(); }
  void Next() override {
    ++index_;
    load();
  }
  const std::string& value() const override { return current_; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void load() {
    if (done()) return;
    current_ = texts_[index_];
    std::replace(current_.begin(), current_.end(), '\n', ' ');
    std::replace(current_.begin(), current_.end(), '\t', ' ');
  }
  const std::vector<std::string>& texts_;
  std::size_t index_ = 0;
  std::string current_;
};

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const std::string& model_file)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()), file_(model_file) {
  ft::check_regular_file(model_file, "SentencePiece model");
  const auto status = processor_->Load(model_file);
  if (!status.ok()) {
    throw ft::DataError("SentencePiece model " + model_file + " cannot be loaded: " + status.ToString());
  }
  if (processor_->PieceToId("[MASK]") == processor_->unk_id() || processor_->pad_id() < 0 || processor_->bos_id() < 0 ||
      processor_->eos_id() < 0) {
    throw ft::DataError("SentencePiece model " + model_file +
                        " lacks BERT's special tokens (a pad, bos and eos id and a [MASK] piece); train it with "
                        "ftrun, or with --pad_id=0 --unk_id=1 --bos_id=2 --eos_id=3 --user_defined_symbols=[MASK]");
  }
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

void SentencePieceTokenizer::train(const std::vector<std::string>& texts, std::int64_t vocab_size, bool lower_case,
                                   const std::string& model_file) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  const std::unordered_map<std::string, std::string> options = {
      {"model_type", "unigram"},
      {"vocab_size", std::to_string(vocab_size)},
      {"character_coverage", "1.0"},
      {"normalization_rule_name", lower_case ? "nmt_nfkc_cf" : "nmt_nfkc"},
      {"pad_id", "0"},
      {"unk_id", "1"},
      {"bos_id", "2"},
      {"eos_id", "3"},
      {"pad_piece", "[PAD]"},
      {"unk_piece", "[UNK]"},
      {"bos_piece", "[CLS]"},
      {"eos_piece", "[SEP]"},
      {"user_defined_symbols", "[MASK]"},
      {"max_sentence_length", "1000000"},
      // vocab_size is a maximum: a small text yields fewer pieces instead of an error.
      {"hard_vocab_limit", "false"},
      {"num_threads", std::to_string(threads)},
      {"minloglevel", "2"},
  };
  TextIterator iterator(texts);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(options, &iterator, &model);
  if (!status.ok()) {
    throw ft::DataError("SentencePiece could not train a vocabulary of " + std::to_string(vocab_size) + " from " +
                        std::to_string(texts.size()) + " texts: " + status.ToString() +
                        " (a smaller dataset.vocab_size, or more text, fixes it)");
  }
  std::error_code error;
  fs::create_directories(fs::path(model_file).parent_path(), error);
  // Written under a name of its own and renamed: a run stopped half-way leaves nothing that looks complete.
  const std::string partial = model_file + ".partial-" + std::to_string(::getpid());
  {
    std::ofstream out(partial, std::ios::binary);
    out.write(model.data(), static_cast<std::streamsize>(model.size()));
    if (!out.flush()) throw ft::DataError("cannot write the SentencePiece model " + partial);
  }
  fs::rename(partial, model_file, error);
  if (error) throw ft::DataError("cannot move the SentencePiece model to " + model_file + ": " + error.message());
}

std::vector<std::int64_t> SentencePieceTokenizer::tokenize(const std::string& text) const {
  std::vector<int> ids;
  const auto status = processor_->Encode(text, &ids);
  if (!status.ok()) throw ft::DataError("SentencePiece model " + file_ + ": " + status.ToString());
  return {ids.begin(), ids.end()};
}

std::int64_t SentencePieceTokenizer::vocab_size() const { return processor_->GetPieceSize(); }

std::map<std::string, std::int64_t> SentencePieceTokenizer::special_tokens() const {
  return {{"pad", processor_->pad_id()},
          {"unk", processor_->unk_id()},
          {"cls", processor_->bos_id()},
          {"sep", processor_->eos_id()},
          {"mask", processor_->PieceToId("[MASK]")}};
}

}  // namespace ft_plugins
