#pragma once
// A scan of TOML text for nesting deeper than any experiment needs, done before the text reaches toml++: its
// parser recurses once per dotted-key part and per nested array or inline table, so a file with 100,000 dotted
// parts overflows the stack (signal 11) before any check on the parsed tree can run.

#include <string>

namespace ft {

/// The most parts a dotted key (`a.b.c = 1`, `[a.b.c]`) may have: deeper than any ftrun file, far below what
/// overflows the parser's stack.
inline constexpr int kMaxDottedKeyParts = 64;
/// The most arrays and inline tables that may be open at once (`x = [[[1]]]` opens three).
inline constexpr int kMaxValueNesting = 64;

/// Throws ConfigError("file:line:col: ...") at the first dotted key with more than kMaxDottedKeyParts parts or
/// the first value nested more than kMaxValueNesting deep. Strings and comments are skipped as TOML defines them;
/// text that is not valid TOML is left for the parser to report.
void check_toml_depth(const std::string& text, const std::string& source_name);

}  // namespace ft
