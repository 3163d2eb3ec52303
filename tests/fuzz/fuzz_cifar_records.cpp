// CIFAR binary records: the first input byte picks CIFAR-10 or CIFAR-100 (fine or coarse labels), the rest is
// the file.
#include "cifar_records.h"

#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int layout = data[0] % 3;  // 0: CIFAR-10, 1: CIFAR-100 fine, 2: CIFAR-100 coarse
  const std::vector<std::uint8_t> bytes(data + 1, data + size);
  ft_plugins::LabelledImages images;
  try {
    ft_plugins::append_cifar_records(bytes, layout == 0 ? 1 : 2, layout == 1 ? 1 : 0,
                                     layout == 0   ? 10
                                     : layout == 1 ? 100
                                                   : 20,
                                     "fuzz.bin", "CIFAR", images);
  } catch (const ft::DataError&) {
  }
  return 0;
}
