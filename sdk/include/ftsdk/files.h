#pragma once
/// @file
/// A check for the files a plugin reads, so that a folder, a FIFO or a device where a data file belongs is a clear
/// DataError naming the path, not a failed allocation (a folder's size is read as 2^63) or a read that never ends.

#include <ftsdk/error.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace ft {

/// Throws DataError when `path` exists but is not a regular file (symbolic links are followed): "`what` `path` is
/// a folder, not a file", or "... is not a regular file (a FIFO, socket or device)". A missing path passes: the
/// caller knows how the user gets it, and says so.
///
/// Example:
///   ft::check_regular_file(path, "CIFAR batch file");
inline void check_regular_file(const std::string& path, const std::string& what) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) return;
  if (std::filesystem::is_directory(status)) throw DataError(what + " " + path + " is a folder, not a file");
  if (!std::filesystem::is_regular_file(status)) {
    throw DataError(what + " " + path + " is not a regular file (a FIFO, socket or device)");
  }
}

}  // namespace ft
