#pragma once
// What the text datasets need from a tokenizer: text to ids, and BERT's special tokens. Free of LibTorch.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ft_plugins {

/// Ids of one text as a model reads it: `[CLS] tokens... [SEP]`, then `[PAD]` up to the length asked for.
struct Encoding {
  std::vector<std::int64_t> input_ids;
  /// 1 for real tokens, 0 for padding.
  std::vector<std::int64_t> attention_mask;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  /// The text's token ids, without special tokens.
  virtual std::vector<std::int64_t> tokenize(const std::string& text) const = 0;
  virtual std::int64_t vocab_size() const = 0;
  /// Ids of "pad", "unk", "cls", "sep" and "mask".
  virtual std::map<std::string, std::int64_t> special_tokens() const = 0;

  /// As HuggingFace's `tokenizer(text, truncation=True, max_length=L, padding="max_length")`: [CLS], the first
  /// L - 2 tokens, [SEP], then padding to L.
  Encoding encode(const std::string& text, std::int64_t max_length) const;
};

}  // namespace ft_plugins
