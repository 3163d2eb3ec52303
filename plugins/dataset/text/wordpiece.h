#pragma once
// BERT's WordPiece tokenizer, as HuggingFace's BertTokenizer computes it (its `tokenizers` backend: BertNormalizer,
// BertPreTokenizer, WordPiece): clean the text (drop control characters, whitespace to spaces), put spaces around
// CJK characters, strip accents and lower-case (both when `lower_case`), split on whitespace and punctuation, then
// split each word greedily into the longest pieces the vocabulary has ("##" marking a piece inside a word); a word
// that cannot be split, or of more than 100 characters, is [UNK]. Unicode properties come from ICU.

#include "tokenizer.h"

#include <string>
#include <unordered_map>
#include <vector>

namespace ft_plugins {

class WordPieceTokenizer final : public Tokenizer {
 public:
  /// Reads a BERT `vocab.txt` (one token per line, its id the line number). Throws ft::DataError naming the file
  /// when it cannot be read or lacks a special token.
  WordPieceTokenizer(const std::string& vocab_file, bool lower_case = true);
  /// From tokens in id order (tests).
  explicit WordPieceTokenizer(std::vector<std::string> tokens, bool lower_case = true);

  std::vector<std::int64_t> tokenize(const std::string& text) const override;
  std::int64_t vocab_size() const override { return static_cast<std::int64_t>(tokens_.size()); }
  std::map<std::string, std::int64_t> special_tokens() const override { return special_; }

  /// The words BertNormalizer and BertPreTokenizer make of `text`, before WordPiece.
  std::vector<std::string> words(const std::string& text) const;

 private:
  void index(const std::string& source);

  std::vector<std::string> tokens_;
  std::unordered_map<std::string, std::int64_t> ids_;
  std::map<std::string, std::int64_t> special_;
  bool lower_case_ = true;
};

}  // namespace ft_plugins
