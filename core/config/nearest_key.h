#pragma once
// "Did you mean ...?" for unknown keys and component names.

#include <string>
#include <vector>

namespace ft {

/// The candidate closest to `word` by edit distance, or "" when none is close enough to be a plausible typo.
std::string nearest_key(const std::string& word, const std::vector<std::string>& candidates);

/// `; did you mean 'x'?` when a candidate is close, else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace ft
