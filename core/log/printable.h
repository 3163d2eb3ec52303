#pragma once
// Text from files (tensor names, folder names) reaches the terminal and the store: escape what a terminal would
// interpret, so a hostile name cannot move the cursor, recolour the screen or forge a log line.

#include <cstdio>
#include <string>

namespace ft {

/// `text` with control characters (newlines and escapes included) and DEL written as \xNN; everything else,
/// UTF-8 included, as it is.
inline std::string printable(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace ft
