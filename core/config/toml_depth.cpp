#include "config/toml_depth.h"

#include <ftsdk/error.h>

namespace ft {
namespace {

bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+';
}

// Walks the text once, keeping the line and column of the current character.
class Scanner {
 public:
  Scanner(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  void run() {
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (c == '#') {
        while (at_ < text_.size() && text_[at_] != '\n') advance();
        end_run();
      } else if (c == '"' || c == '\'') {
        segment();
        skip_string(c);
      } else if (c == '.') {
        // Only a dot between key parts continues a key; numbers hold at most one, so a run of dots separated by
        // bare words, quoted strings and blanks is a dotted key whatever the line holds around it.
        if (in_run_ && ++parts_ > kMaxDottedKeyParts) {
          fail(run_line_, run_column_,
               "a dotted key with more than " + std::to_string(kMaxDottedKeyParts) +
                   " parts; an experiment's keys have at most four (stage.NAME.section.key)");
        }
        advance();
      } else if (is_bare_key_char(c)) {
        segment();
        advance();
      } else if (c == ' ' || c == '\t') {
        advance();
      } else if (c == '[' || c == '{') {
        if (++nesting_ > kMaxValueNesting) {
          fail(line_, column_,
               "arrays or inline tables nested more than " + std::to_string(kMaxValueNesting) + " deep");
        }
        end_run();
        advance();
      } else if (c == ']' || c == '}') {
        if (nesting_ > 0) --nesting_;
        end_run();
        advance();
      } else {
        end_run();
        advance();
      }
    }
  }

 private:
  void advance() {
    if (text_[at_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++at_;
  }

  bool starts_with(const char* token) const {
    return text_.compare(at_, std::char_traits<char>::length(token), token) == 0;
  }

  void segment() {
    if (in_run_) return;
    in_run_ = true;
    parts_ = 1;
    run_line_ = line_;
    run_column_ = column_;
  }

  void end_run() { in_run_ = false; }

  // Skips a basic ("...", """...""") or literal ('...', '''...''') string, escapes included; an unterminated one
  // ends at the end of its line (single-line) or of the text, and the parser reports it.
  void skip_string(char quote) {
    const bool basic = quote == '"';
    const std::string triple(3, quote);
    const bool multi_line = starts_with(triple.c_str());
    for (int i = 0; i < (multi_line ? 3 : 1); ++i) advance();
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (basic && c == '\\') {
        advance();
        if (at_ < text_.size()) advance();
      } else if (multi_line && starts_with(triple.c_str())) {
        // Up to two quotes may end the content right before the closing three ("""a""""" is `a""`).
        int quotes = 0;
        while (at_ < text_.size() && text_[at_] == quote && quotes < 5) {
          advance();
          ++quotes;
        }
        return;
      } else if (!multi_line && (c == quote || c == '\n')) {
        if (c == quote) advance();
        return;
      } else {
        advance();
      }
    }
  }

  [[noreturn]] void fail(int line, int column, const std::string& message) const {
    throw ConfigError(source_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message);
  }

  const std::string& text_;
  const std::string& source_;
  std::size_t at_ = 0;
  int line_ = 1;
  int column_ = 1;
  bool in_run_ = false;
  int parts_ = 0;
  int run_line_ = 0;
  int run_column_ = 0;
  int nesting_ = 0;
};

}  // namespace

void check_toml_depth(const std::string& text, const std::string& source_name) { Scanner(text, source_name).run(); }

}  // namespace ft
