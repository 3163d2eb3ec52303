#pragma once
// Labelled documents read from disk, before tokenization: a file of label and text per line (TSV) or per JSON
// object (JSON lines), and Debian's fortunes (one file per category, `%` lines between entries). Free of LibTorch,
// so that the readers are tested and fuzzed on their own.

#include <string>
#include <vector>

namespace ft_plugins {

struct Document {
  std::string label;
  std::string text;
};

/// `path` as TSV (`label<TAB>text` per line) or JSON lines (`{"label": ..., "text": ...}` per line, the keys named
/// by `label_key` and `text_key`; numbers are fine as labels), chosen by its extension (.tsv, .jsonl, .json).
/// Empty lines are skipped. Throws ft::DataError naming the file and line of the first malformed one.
std::vector<Document> read_labelled_text(const std::string& path, const std::string& label_key = "label",
                                         const std::string& text_key = "text");

/// Same, from text already read (`name` for messages; `json` chooses the format).
std::vector<Document> parse_labelled_text(const std::string& content, const std::string& name, bool json,
                                          const std::string& label_key = "label", const std::string& text_key = "text");

/// The entries of one fortune file: the text between lines holding only `%`, trailing spaces and blank lines
/// trimmed, empty entries dropped; each labelled `category`.
std::vector<Document> parse_fortunes(const std::string& content, const std::string& category);

/// The category files of a fortunes folder (files without an extension, sorted).
std::vector<std::string> fortune_categories(const std::string& folder);

/// The entries of `categories` in `folder`. Throws ft::DataError when the folder or a category is missing, naming
/// the Debian package that installs them.
std::vector<Document> read_fortunes(const std::string& folder, const std::vector<std::string>& categories);

}  // namespace ft_plugins
