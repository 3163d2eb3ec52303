// The text datasets' readers of user files (TSV, JSON lines, fortune files) and the WordPiece tokenizer on any
// bytes: a malformed line is an ft::DataError naming it, never a crash; any text tokenizes to ids of the vocabulary.
#include "text_corpus.h"
#include "wordpiece.h"

#include <ftsdk/error.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

const ft_plugins::WordPieceTokenizer& tokenizer() {
  static const ft_plugins::WordPieceTokenizer instance(std::vector<std::string>{
      "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "the", "##s", "##ing", "##a", "run", "!", "."});
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const bool json : {false, true}) {
    try {
      for (const auto& document : ft_plugins::parse_labelled_text(text, "fuzz", json)) {
        if (document.label.empty() && !json) std::abort();  // a TSV label is never empty
      }
    } catch (const ft::DataError&) {
    }
  }
  for (const auto& entry : ft_plugins::parse_fortunes(text, "fuzz")) {
    if (entry.text.empty()) std::abort();
  }
  const auto encoding = tokenizer().encode(text, 16);
  if (encoding.input_ids.size() != 16 || encoding.attention_mask.size() != 16) std::abort();
  for (const auto id : tokenizer().tokenize(text)) {
    if (id < 0 || id >= tokenizer().vocab_size()) std::abort();
  }
  return 0;
}
