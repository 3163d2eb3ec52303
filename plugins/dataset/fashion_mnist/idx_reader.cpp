#include "idx_reader.h"

#include <ftsdk/error.h>
#include <ftsdk/files.h>

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <memory>

namespace ft_plugins {
namespace {

struct GzClose {
  void operator()(gzFile file) const { gzclose(file); }
};

std::uint32_t big_endian(const unsigned char* bytes) {
  return (std::uint32_t(bytes[0]) << 24) | (std::uint32_t(bytes[1]) << 16) | (std::uint32_t(bytes[2]) << 8) |
         std::uint32_t(bytes[3]);
}

// Reads up to `size` bytes; returns how many were read. gzread reads plain files transparently too.
std::size_t read_some(gzFile file, void* into, std::size_t size, const std::string& path) {
  std::size_t done = 0;
  auto* out = static_cast<unsigned char*>(into);
  while (done < size) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(size - done, 1u << 30));
    const int got = gzread(file, out + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      throw ft::DataError(path + ": cannot decompress: " + (message ? message : "unknown zlib error"));
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  ft::check_regular_file(path, "IDX file");
  std::unique_ptr<gzFile_s, GzClose> file(gzopen(path.c_str(), "rb"));
  if (!file) throw ft::DataError(path + ": file not found or not readable");

  unsigned char magic[4];
  if (read_some(file.get(), magic, 4, path) != 4) throw ft::DataError(path + ": too short to be an IDX file");
  if (magic[0] != 0 || magic[1] != 0) throw ft::DataError(path + ": not an IDX file (bad magic number)");
  if (magic[2] != 0x08) {
    throw ft::DataError(path + ": IDX data type " + std::to_string(magic[2]) +
                        " is not supported (expected 8, "
                        "unsigned bytes)");
  }
  const int rank = magic[3];
  if (rank < 1 || rank > 4) throw ft::DataError(path + ": IDX rank " + std::to_string(rank) + " is not supported");

  IdxArray array;
  std::uint64_t total = 1;
  bool overflow = false;
  for (int i = 0; i < rank; ++i) {
    unsigned char bytes[4];
    if (read_some(file.get(), bytes, 4, path) != 4) throw ft::DataError(path + ": truncated IDX header");
    array.dims.push_back(big_endian(bytes));
    overflow = overflow || (array.dims.back() != 0 && total > UINT64_MAX / array.dims.back());
    if (!overflow) total *= array.dims.back();
  }
  std::string shape;
  for (const auto dim : array.dims) shape += (shape.empty() ? "" : "x") + std::to_string(dim);
  if (overflow) throw ft::DataError(path + ": its header promises " + shape + " bytes, more than any file can hold");
  // The header is only a promise: grow the buffer as data arrives instead of allocating the promised size at
  // once, so a damaged header reports a truncated file rather than exhausting memory.
  constexpr std::uint64_t kChunk = 16u << 20;
  array.data.reserve(static_cast<std::size_t>(std::min(total, kChunk)));
  std::uint64_t got = 0;
  while (got < total) {
    const auto want = static_cast<std::size_t>(std::min(total - got, kChunk));
    array.data.resize(static_cast<std::size_t>(got) + want);
    const std::size_t read = read_some(file.get(), array.data.data() + got, want, path);
    got += read;
    if (read < want) break;
  }
  array.data.resize(static_cast<std::size_t>(got));
  if (got != total) {
    throw ft::DataError(path + ": truncated: its header promises " + shape + " = " + std::to_string(total) +
                        " bytes of data, found " + std::to_string(got) + " (re-download or reinstall the file)");
  }
  return array;
}

}  // namespace ft_plugins
