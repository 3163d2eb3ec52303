#include "text_corpus.h"

#include <ftsdk/error.h>
#include <ftsdk/files.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace ft_plugins {
namespace {

std::string read_file(const std::string& path, const std::string& hint) {
  ft::check_regular_file(path, "text file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ft::DataError(path + ": not found" + hint);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string json_label(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer() || value.is_boolean()) return value.dump();
  throw std::runtime_error("the label must be a string or an integer");
}

const char* const kFortunesHint =
    " (the fortunes dataset reads Debian's fortune files: install them with `apt-get install fortunes`, or set "
    "dataset.folder to a folder of such files)";

}  // namespace

std::vector<Document> parse_labelled_text(const std::string& content, const std::string& name, bool json,
                                          const std::string& label_key, const std::string& text_key) {
  std::vector<Document> out;
  std::istringstream lines(content);
  std::size_t number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = name + ":" + std::to_string(number) + ": ";
    if (json) {
      try {
        const auto object = nlohmann::json::parse(line);
        if (!object.is_object()) throw std::runtime_error("expected a JSON object");
        if (!object.contains(label_key)) throw std::runtime_error("no \"" + label_key + "\" key");
        if (!object.contains(text_key) || !object[text_key].is_string()) {
          throw std::runtime_error("no \"" + text_key + "\" key holding a string");
        }
        out.push_back({json_label(object[label_key]), object[text_key].get<std::string>()});
      } catch (const std::exception& e) {
        throw ft::DataError(where + e.what() + " (expected one object per line, e.g. {\"" + label_key +
                            "\": \"positive\", \"" + text_key + "\": \"a fine film\"})");
      }
      continue;
    }
    const auto tab = line.find('\t');
    if (tab == std::string::npos || tab == 0) {
      throw ft::DataError(where + "expected a label, a tab, then the text");
    }
    out.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return out;
}

std::vector<Document> read_labelled_text(const std::string& path, const std::string& label_key,
                                         const std::string& text_key) {
  const std::string extension = fs::path(path).extension().string();
  if (extension != ".tsv" && extension != ".jsonl" && extension != ".json") {
    throw ft::DataError(path +
                        ": expected a .tsv file (label, tab, text per line) or a .jsonl file (one JSON object "
                        "per line)");
  }
  return parse_labelled_text(read_file(path, ""), path, extension != ".tsv", label_key, text_key);
}

std::vector<Document> parse_fortunes(const std::string& content, const std::string& category) {
  std::vector<Document> out;
  std::string entry;
  auto finish = [&] {
    // Trailing blank lines and spaces go; what is left, if anything, is an entry.
    const auto end = entry.find_last_not_of(" \t\r\n");
    if (end != std::string::npos) out.push_back({category, entry.substr(0, end + 1)});
    entry.clear();
  };
  std::istringstream lines(content);
  for (std::string line; std::getline(lines, line);) {
    if (line == "%" || line == "%\r") {
      finish();
      continue;
    }
    entry += line;
    entry += '\n';
  }
  finish();
  return out;
}

std::vector<std::string> fortune_categories(const std::string& folder) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) throw ft::DataError("fortunes folder " + folder + " not found" + kFortunesHint);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    if (entry.is_regular_file() && !entry.is_symlink() && !entry.path().has_extension()) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<Document> read_fortunes(const std::string& folder, const std::vector<std::string>& categories) {
  const auto known = fortune_categories(folder);
  std::vector<Document> out;
  for (const auto& category : categories) {
    if (std::find(known.begin(), known.end(), category) == known.end()) {
      std::string list;
      for (const auto& name : known) list += (list.empty() ? "" : ", ") + name;
      throw ft::DataError("fortunes category '" + category + "' not found in " + folder + " (there are: " + list + ")");
    }
    const auto entries = parse_fortunes(read_file((fs::path(folder) / category).string(), kFortunesHint), category);
    out.insert(out.end(), entries.begin(), entries.end());
  }
  return out;
}

}  // namespace ft_plugins
