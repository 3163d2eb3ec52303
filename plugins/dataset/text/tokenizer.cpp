#include "tokenizer.h"

#include <algorithm>

namespace ft_plugins {

Encoding Tokenizer::encode(const std::string& text, std::int64_t max_length) const {
  const auto special = special_tokens();
  const auto tokens = tokenize(text);
  const auto kept =
      std::min<std::int64_t>(static_cast<std::int64_t>(tokens.size()), std::max<std::int64_t>(max_length - 2, 0));
  Encoding out;
  out.input_ids.reserve(static_cast<std::size_t>(max_length));
  out.input_ids.push_back(special.at("cls"));
  out.input_ids.insert(out.input_ids.end(), tokens.begin(), tokens.begin() + kept);
  out.input_ids.push_back(special.at("sep"));
  out.attention_mask.assign(out.input_ids.size(), 1);
  out.input_ids.resize(static_cast<std::size_t>(std::max<std::int64_t>(max_length, 2)), special.at("pad"));
  out.attention_mask.resize(out.input_ids.size(), 0);
  return out;
}

}  // namespace ft_plugins
