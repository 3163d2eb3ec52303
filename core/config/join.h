#pragma once
// Lists in messages: "a, b, c", or one problem per line.

#include <string>
#include <vector>

namespace ft {

/// `words` with `separator` between them.
inline std::string join(const std::vector<std::string>& words, const std::string& separator = ", ") {
  std::string out;
  for (const auto& word : words) out += (out.empty() ? "" : separator) + word;
  return out;
}

}  // namespace ft
