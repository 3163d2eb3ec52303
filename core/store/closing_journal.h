#pragma once
// A run's closing, kept in a file beside the store when the database cannot take it. The file is reserved at its
// full size when the run begins, so writing it later overwrites blocks it already owns: it works on a full disk,
// where SQLite needs new pages for its write-ahead log. Included only by core/store/*.cpp.

#include "store/results_store.h"

#include <optional>
#include <string>
#include <vector>

namespace ft {

/// What closing a run writes: its status, end time, error, and the metric rows the store could not take.
struct ClosingRecord {
  std::string status, ended_at, error;
  std::vector<MetricRow> rows;
};

/// Bytes reserved per run: the closing row and about 3,000 metric rows.
inline constexpr std::size_t kClosingJournalBytes = 256 * 1024;

/// Creates `path` at kClosingJournalBytes, its blocks allocated; false when the disk has no room for it.
bool reserve_closing_file(const std::string& path);

/// Writes `record` over the start of the reserved file `path` and syncs it; false when that fails. Rows that do
/// not fit are left out, oldest first, and the error says how many.
bool write_closing_journal(const std::string& path, const ClosingRecord& record);

/// The record in `path`, or nothing when the file is missing, still only reserved, or cut short.
std::optional<ClosingRecord> read_closing_journal(const std::string& path);

}  // namespace ft
