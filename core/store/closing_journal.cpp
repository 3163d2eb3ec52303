#include "store/closing_journal.h"

#include "store/store_internals.h"

#include "log/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace ft {
namespace {

constexpr const char* kMagic = "ftrun closing journal 1";

// Fields are one line each, tab-separated: tabs, newlines and backslashes in them are escaped.
std::string escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else
      out += c;
  }
  return out;
}

std::string unescaped(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    const char next = text[++i];
    out += next == 'n' ? '\n' : next == 't' ? '\t' : next;
  }
  return out;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream stream(line);
  while (std::getline(stream, field, '\t')) fields.push_back(unescaped(field));
  return fields;
}

std::string row_line(const MetricRow& row) {
  char value[32];
  std::snprintf(value, sizeof value, "%.17g", row.value);
  return "metric\t" + escaped(row.scope) + "\t" + std::to_string(row.epoch) + "\t" + std::to_string(row.step) + "\t" +
         escaped(row.name) + "\t" + (std::isnan(row.value) ? "nan" : value) + "\n";
}

void read_fields(std::istream& in, ClosingRecord& record, bool& ended) {
  std::string line;
  while (!ended && std::getline(in, line)) {
    const auto fields = fields_of(line);
    if (fields.empty()) continue;
    if (fields[0] == "end") {
      ended = true;
    } else if (fields[0] == "status" && fields.size() == 2) {
      record.status = fields[1];
    } else if (fields[0] == "ended_at" && fields.size() == 2) {
      record.ended_at = fields[1];
    } else if (fields[0] == "error") {
      record.error = fields.size() > 1 ? fields[1] : std::string();
    } else if (fields[0] == "metric" && fields.size() == 6) {
      MetricRow row;
      row.scope = fields[1];
      row.epoch = std::stoll(fields[2]);
      row.step = std::stoll(fields[3]);
      row.name = fields[4];
      row.value = fields[5] == "nan" ? std::nan("") : std::stod(fields[5]);
      record.rows.push_back(std::move(row));
    }
  }
}

}  // namespace

bool reserve_closing_file(const std::string& path) {
  std::error_code error;
  fs::create_directories(fs::path(path).parent_path(), error);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool reserved = ::posix_fallocate(fd, 0, static_cast<off_t>(kClosingJournalBytes)) == 0;
  ::close(fd);
  if (!reserved) fs::remove(path, error);
  return reserved;
}

bool write_closing_journal(const std::string& path, const ClosingRecord& record) {
  const std::string end = "end\n";
  std::string head =
      std::string(kMagic) + "\nstatus\t" + escaped(record.status) + "\nended_at\t" + escaped(record.ended_at) + "\n";
  // The newest rows are the ones nearest the failure; when they do not all fit, the oldest are left out.
  std::vector<std::string> rows;
  std::size_t room = kClosingJournalBytes - head.size() - end.size() - 1024 - escaped(record.error).size();
  if (room > kClosingJournalBytes) room = 0;  // the error alone does not fit: keep no rows
  for (auto it = record.rows.rbegin(); it != record.rows.rend(); ++it) {
    std::string line = row_line(*it);
    if (line.size() > room) break;
    room -= line.size();
    rows.push_back(std::move(line));
  }
  std::string error = record.error;
  if (rows.size() < record.rows.size()) {
    error += "\n(" + std::to_string(record.rows.size() - rows.size()) + " of " + std::to_string(record.rows.size()) +
             " unwritten metric rows did not fit in the closing journal and were lost)";
  }
  std::string text = head + "error\t" + escaped(error) + "\n";
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) text += *it;
  text += end;
  if (text.size() > kClosingJournalBytes) text = head + "error\t" + escaped(error.substr(0, 4096)) + "\n" + end;

  // Overwrites the reserved blocks in place: no O_TRUNC, no new space needed.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool written = ::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
  written = ::fsync(fd) == 0 && written;
  ::close(fd);
  return written;
}

std::optional<ClosingRecord> read_closing_journal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!in || !std::getline(in, line) || line != kMagic) return std::nullopt;  // only reserved (zeros), or foreign
  ClosingRecord record;
  bool ended = false;
  try {
    read_fields(in, record, ended);
  } catch (const std::exception&) {
    return std::nullopt;  // a number that does not parse: damaged
  }
  // A journal cut short by a crash while it was written is not applied: the run is then closed as interrupted.
  const bool known = record.status == "completed" || record.status == "failed" || record.status == "interrupted" ||
                     record.status == "diverged" || record.status == "pruned";
  if (!ended || !known) return std::nullopt;
  return record;
}

}  // namespace ft
