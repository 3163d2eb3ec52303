// COCO instances files: any bytes as the JSON of an annotation file, then the subsets taken from what was read.
#include "coco_annotations.h"

#include <ftsdk/error.h>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto annotations =
        ft_plugins::parse_coco_annotations(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    ft_plugins::few_shot(annotations, 2, size);
    if (!annotations.categories.empty()) {
      ft_plugins::keep_categories(annotations, {annotations.categories.front().name}, "fuzz.json");
    }
  } catch (const ft::DataError&) {
  }
  return 0;
}
