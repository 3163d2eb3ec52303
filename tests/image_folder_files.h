#pragma once
// Writes a small image folder (two classes, PNG and JPEG files of several sizes) with stb_image_write.

#include <stb/stb_image_write.h>

#include <filesystem>
#include <string>
#include <vector>

// Class c's images are flat colour (c * 80, 40, 200 - c * 80) of varying sizes, so decoding is checkable.
inline void write_image_folder(const std::string& root, int per_class) {
  for (int c = 0; c < 2; ++c) {
    const std::string folder = root + "/class_" + std::to_string(c);
    std::filesystem::create_directories(folder);
    for (int i = 0; i < per_class; ++i) {
      const int w = 40 + 7 * i, h = 30 + 5 * i;
      std::vector<unsigned char> pixels(static_cast<std::size_t>(w * h * 3));
      for (std::size_t p = 0; p < pixels.size(); p += 3) {
        pixels[p] = static_cast<unsigned char>(c * 80);
        pixels[p + 1] = 40;
        pixels[p + 2] = static_cast<unsigned char>(200 - c * 80);
      }
      const std::string name = folder + "/" + std::to_string(i);
      if (i % 2 == 0) {
        stbi_write_png((name + ".png").c_str(), w, h, 3, pixels.data(), w * 3);
      } else {
        stbi_write_jpg((name + ".jpg").c_str(), w, h, 3, pixels.data(), 95);
      }
    }
  }
}
