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

/// `text` on one line: line breaks become spaces and trailing spaces go (a trial's `key = value` lines in a
/// table row). Not made printable; use `printable` for that.
inline std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

/// `text` (made printable) cut or padded to `width` characters for a table column. Counts UTF-8 code points,
/// so a name is never cut inside a character (the terminal would show garbage) and columns stay aligned.
inline std::string fit_width(const std::string& text, std::size_t width) {
  const std::string shown = printable(text);
  std::string out;
  std::size_t characters = 0;
  for (std::size_t i = 0; i < shown.size();) {
    const auto lead = static_cast<unsigned char>(shown[i]);
    std::size_t length = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (i + length > shown.size()) length = shown.size() - i;
    if (characters == width) break;
    out.append(shown, i, length);
    ++characters;
    i += length;
  }
  out.append(width - characters, ' ');
  return out;
}

}  // namespace ft
