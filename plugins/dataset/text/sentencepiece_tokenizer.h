#pragma once
// SentencePiece (Debian's libsentencepiece), trained on a dataset's text when no model is given, with BERT's
// special tokens: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4. Lower-casing uses SentencePiece's own NFKC with
// case folding rule.

#include "tokenizer.h"

#include <memory>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace ft_plugins {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  /// Loads a trained model file. Throws ft::DataError naming the file.
  explicit SentencePieceTokenizer(const std::string& model_file);
  ~SentencePieceTokenizer() override;

  /// Trains a unigram model of `vocab_size` pieces on `texts` and writes it to `model_file` (through a temporary
  /// file, renamed when complete). Throws ft::DataError when SentencePiece refuses (too little text for the size).
  static void train(const std::vector<std::string>& texts, std::int64_t vocab_size, bool lower_case,
                    const std::string& model_file);

  std::vector<std::int64_t> tokenize(const std::string& text) const override;
  std::int64_t vocab_size() const override;
  std::map<std::string, std::int64_t> special_tokens() const override;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::string file_;
};

}  // namespace ft_plugins
