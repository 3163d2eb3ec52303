// IDX files, plain or gzip-compressed (read_idx takes a path: the input is written to an in-memory file).
#include "idx_reader.h"

#include <ftsdk/error.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = memfd_create("fuzz.idx", 0);
  if (fd < 0) return 0;
  if (write(fd, data, size) == static_cast<ssize_t>(size)) {
    try {
      ft_plugins::read_idx("/proc/self/fd/" + std::to_string(fd));
    } catch (const ft::DataError&) {
    }
  }
  close(fd);
  return 0;
}
