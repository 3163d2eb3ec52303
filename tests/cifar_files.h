#pragma once
// Writes files in the official binary CIFAR formats, with full official sizes, and contents a test can predict:
// record i has label i % classes and every pixel of channel c equals pixel_value(label, c).

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

inline unsigned char cifar_pixel_value(int label, int channel) {
  return static_cast<unsigned char>(label * 2 + channel * 60);
}

inline void write_cifar_file(const std::string& path, int records, int label_bytes, int classes) {
  std::vector<char> bytes;
  bytes.reserve(static_cast<std::size_t>(records) * (label_bytes + 3072));
  for (int i = 0; i < records; ++i) {
    const int label = i % classes;
    if (label_bytes == 2) bytes.push_back(static_cast<char>(label % 20));  // coarse label
    bytes.push_back(static_cast<char>(label));
    for (int c = 0; c < 3; ++c) bytes.insert(bytes.end(), 1024, static_cast<char>(cifar_pixel_value(label, c)));
  }
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// CIFAR-10 layout in `dir`: five training batches and the test batch, 10,000 records each.
inline void write_cifar10(const std::string& dir) {
  std::filesystem::create_directories(dir);
  for (int batch = 1; batch <= 5; ++batch) {
    write_cifar_file(dir + "/data_batch_" + std::to_string(batch) + ".bin", 10000, 1, 10);
  }
  write_cifar_file(dir + "/test_batch.bin", 10000, 1, 10);
}

/// CIFAR-100 layout in `dir`: train.bin (50,000 records) and test.bin (10,000).
inline void write_cifar100(const std::string& dir) {
  std::filesystem::create_directories(dir);
  write_cifar_file(dir + "/train.bin", 50000, 2, 100);
  write_cifar_file(dir + "/test.bin", 10000, 2, 100);
}
