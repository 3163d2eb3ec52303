#include "wordpiece.h"

#include <ftsdk/error.h>
#include <ftsdk/files.h>

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <fstream>

namespace ft_plugins {
namespace {

constexpr std::size_t kMaxCharsPerWord = 100;  // BERT's max_input_chars_per_word

bool is_control(UChar32 c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  switch (u_charType(c)) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_SURROGATE:
    case U_PRIVATE_USE_CHAR:
    case U_UNASSIGNED: return true;
    default: return false;
  }
}

bool is_whitespace(UChar32 c) { return c == '\t' || c == '\n' || c == '\r' || u_isUWhiteSpace(c); }

bool is_punctuation(UChar32 c) {
  const bool ascii = (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  return ascii || (U_GET_GC_MASK(c) & U_GC_P_MASK) != 0;
}

// The CJK Unified Ideographs blocks BERT splits into single characters.
bool is_chinese(UChar32 c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::vector<UChar32> code_points(const std::string& text) {
  std::vector<UChar32> out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
  const auto length = static_cast<std::int32_t>(text.size());
  for (std::int32_t i = 0; i < length;) {
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    out.push_back(c < 0 ? 0xFFFD : c);  // invalid UTF-8 becomes U+FFFD, which cleaning drops
  }
  return out;
}

void append_utf8(std::string& out, UChar32 c) {
  char buffer[4];
  std::int32_t length = 0;
  UBool error = false;
  U8_APPEND(reinterpret_cast<std::uint8_t*>(buffer), length, 4, c, error);
  if (!error) out.append(buffer, static_cast<std::size_t>(length));
}

// NFD, without nonspacing marks.
std::vector<UChar32> strip_accents(const std::vector<UChar32>& chars) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(status);
  icu::UnicodeString text;
  for (const UChar32 c : chars) text.append(c);
  const icu::UnicodeString decomposed = U_SUCCESS(status) ? nfd->normalize(text, status) : text;
  std::vector<UChar32> out;
  for (std::int32_t i = 0; i < decomposed.length(); i = decomposed.moveIndex32(i, 1)) {
    const UChar32 c = decomposed.char32At(i);
    if (u_charType(c) != U_NON_SPACING_MARK) out.push_back(c);
  }
  return out;
}

// Each character's full lower-case mapping on its own, as Rust's char::to_lowercase (no context rules).
std::vector<UChar32> lower(const std::vector<UChar32>& chars) {
  std::vector<UChar32> out;
  out.reserve(chars.size());
  for (const UChar32 c : chars) {
    if (c < 128) {
      out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
      continue;
    }
    icu::UnicodeString one(c);
    one.toLower(icu::Locale::getRoot());
    for (std::int32_t i = 0; i < one.length(); i = one.moveIndex32(i, 1)) out.push_back(one.char32At(i));
  }
  return out;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(const std::string& vocab_file, bool lower_case) : lower_case_(lower_case) {
  ft::check_regular_file(vocab_file, "WordPiece vocabulary");
  std::ifstream in(vocab_file);
  if (!in) {
    throw ft::DataError("WordPiece vocabulary " + vocab_file +
                        " not found (expected a BERT vocab.txt, one token per line; scripts/export_weights.py writes "
                        "one beside the weights of a HuggingFace model)");
  }
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    tokens_.push_back(line);
  }
  index(vocab_file);
}

WordPieceTokenizer::WordPieceTokenizer(std::vector<std::string> tokens, bool lower_case)
    : tokens_(std::move(tokens)), lower_case_(lower_case) {
  index("(given tokens)");
}

void WordPieceTokenizer::index(const std::string& source) {
  // As HuggingFace's load_vocab: a token listed twice keeps its last line's id.
  for (std::size_t i = 0; i < tokens_.size(); ++i) ids_[tokens_[i]] = static_cast<std::int64_t>(i);
  for (const auto& [name, token] : std::map<std::string, std::string>{
           {"pad", "[PAD]"}, {"unk", "[UNK]"}, {"cls", "[CLS]"}, {"sep", "[SEP]"}, {"mask", "[MASK]"}}) {
    auto it = ids_.find(token);
    if (it == ids_.end()) {
      throw ft::DataError("WordPiece vocabulary " + source + " has no " + token + " token (" +
                          std::to_string(tokens_.size()) + " tokens read; is it a BERT vocab.txt?)");
    }
    special_[name] = it->second;
  }
}

std::vector<std::string> WordPieceTokenizer::words(const std::string& text) const {
  // BertNormalizer: clean, space out CJK characters, strip accents, lower-case.
  std::vector<UChar32> chars;
  for (const UChar32 c : code_points(text)) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      chars.push_back(' ');
    } else if (is_chinese(c)) {
      chars.insert(chars.end(), {' ', c, ' '});
    } else {
      chars.push_back(c);
    }
  }
  if (lower_case_) chars = lower(strip_accents(chars));
  // BertPreTokenizer: split on whitespace, each punctuation character a word of its own.
  std::vector<std::string> out;
  std::string word;
  auto finish = [&] {
    if (!word.empty()) out.push_back(std::move(word));
    word.clear();
  };
  for (const UChar32 c : chars) {
    if (is_whitespace(c)) {
      finish();
    } else if (is_punctuation(c)) {
      finish();
      append_utf8(word, c);
      finish();
    } else {
      append_utf8(word, c);
    }
  }
  finish();
  return out;
}

std::vector<std::int64_t> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<std::int64_t> ids;
  for (const auto& word : words(text)) {
    const auto chars = code_points(word);
    if (chars.size() > kMaxCharsPerWord) {
      ids.push_back(special_.at("unk"));
      continue;
    }
    // Greedy longest match, left to right.
    std::vector<std::int64_t> pieces;
    std::size_t start = 0;
    bool unknown = false;
    while (start < chars.size()) {
      std::size_t end = chars.size();
      std::int64_t found = -1;
      while (start < end) {
        std::string piece = start > 0 ? "##" : "";
        for (std::size_t i = start; i < end; ++i) append_utf8(piece, chars[i]);
        if (auto it = ids_.find(piece); it != ids_.end()) {
          found = it->second;
          break;
        }
        --end;
      }
      if (found < 0) {
        unknown = true;
        break;
      }
      pieces.push_back(found);
      start = end;
    }
    if (unknown) {
      ids.push_back(special_.at("unk"));
    } else {
      ids.insert(ids.end(), pieces.begin(), pieces.end());
    }
  }
  return ids;
}

}  // namespace ft_plugins
