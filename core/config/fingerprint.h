#pragma once
// A 64-bit FNV-1a hash over a sequence of byte strings: names a thing by its content (a sweep by its file and
// overrides, a feature cache by the weights and data it was computed from). Not cryptographic: it tells
// versions apart, it does not defend against someone forging a collision.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace ft {

class Fingerprint {
 public:
  /// Adds `size` bytes, then a separator, so that ("ab", "c") and ("a", "bc") differ.
  Fingerprint& add(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) mix(bytes[i]);
    mix(0xff);
    return *this;
  }
  Fingerprint& add(const std::string& text) { return add(text.data(), text.size()); }

  /// 16 hexadecimal digits.
  std::string hex() const {
    char buffer[17];
    std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash_));
    return buffer;
  }

 private:
  void mix(unsigned char byte) {
    hash_ ^= byte;
    hash_ *= 1099511628211ULL;
  }
  std::uint64_t hash_ = 1469598103934665603ULL;
};

}  // namespace ft
