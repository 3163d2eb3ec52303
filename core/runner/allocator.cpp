#include "runner/allocator.h"

#include <malloc.h>

#include <cstdlib>

namespace ft {

void tune_allocator() {
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"}) {
    if (std::getenv(name)) return;
  }
  // Blocks up to 1 GB come from the heap (a float batch of 64 224x224 images is 38 MB); up to 1 GB of freed memory
  // stays with the process; the heap grows 256 MB at a time.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 256 << 20);
}

}  // namespace ft
