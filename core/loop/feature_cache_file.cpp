#include "loop/feature_cache_file.h"

#include <ftsdk/error.h>

#include <torch/torch.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>

namespace ft {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'F', 'T', 'F', 'E', 'A', 'T', 'C', '\0'};
constexpr std::uint32_t kVersion = 1;
constexpr std::int64_t kHeaderBytes = 4096;
constexpr std::size_t kMaxRank = 8;

struct Header {
  char magic[8];
  std::uint32_t version;
  /// 0: float32, 1: bfloat16.
  std::uint32_t dtype;
  std::int64_t examples;
  std::int64_t rank;
  std::int64_t shape[kMaxRank];
  char key[64];
};
static_assert(sizeof(Header) <= kHeaderBytes);

std::uint32_t dtype_code(torch::ScalarType dtype) {
  if (dtype == torch::kFloat32) return 0;
  if (dtype == torch::kBFloat16) return 1;
  throw Error("feature cache: activations must be float32 or bfloat16");
}

torch::ScalarType dtype_of(std::uint32_t code) { return code == 0 ? torch::kFloat32 : torch::kBFloat16; }

std::int64_t row_bytes(const Header& header) {
  std::int64_t elements = 1;
  for (std::int64_t d = 0; d < header.rank; ++d) elements *= header.shape[d];
  return elements * (header.dtype == 0 ? 4 : 2);
}

void write_all(std::FILE* file, const void* data, std::size_t bytes, const std::string& path) {
  if (bytes != 0 && std::fwrite(data, 1, bytes, file) != bytes) {
    throw Error("feature cache: cannot write " + path + ": " + std::strerror(errno) +
                " (the disk may be full; set train.feature_cache = \"memory\" or \"off\")");
  }
}

// A read-only file mapped privately: writes through a tensor would only change this process's copy.
struct Mapping {
  void* address = MAP_FAILED;
  std::size_t bytes = 0;
  ~Mapping() {
    if (address != MAP_FAILED) munmap(address, bytes);
  }
};

}  // namespace

FeatureCacheWriter::FeatureCacheWriter(std::string path, std::string key, torch::ScalarType dtype,
                                       std::vector<std::int64_t> shape, std::int64_t examples)
    : path_(std::move(path)), examples_(examples) {
  if (shape.size() > kMaxRank || key.size() >= sizeof(Header::key)) {
    throw Error("feature cache: activations of rank " + std::to_string(shape.size()) + " cannot be stored");
  }
  Header header{};
  std::memcpy(header.magic, kMagic, sizeof kMagic);
  header.version = kVersion;
  header.dtype = dtype_code(dtype);
  header.examples = examples;
  header.rank = static_cast<std::int64_t>(shape.size());
  std::copy(shape.begin(), shape.end(), header.shape);
  std::memcpy(header.key, key.data(), key.size());
  row_bytes_ = row_bytes(header);

  std::error_code error;
  fs::create_directories(fs::path(path_).parent_path(), error);
  // Per process: processes of one data-parallel run may write the same cache at once; the last rename wins,
  // and every one of them is complete.
  partial_ = path_ + ".partial-" + std::to_string(::getpid());
  file_ = std::fopen(partial_.c_str(), "wb");
  if (!file_) throw Error("feature cache: cannot create " + partial_ + ": " + std::strerror(errno));
  std::vector<char> block(kHeaderBytes, 0);
  std::memcpy(block.data(), &header, sizeof header);
  write_all(file_, block.data(), block.size(), partial_);
  labels_.reserve(static_cast<std::size_t>(examples));
}

FeatureCacheWriter::~FeatureCacheWriter() {
  if (file_) {
    std::fclose(file_);
    std::remove(partial_.c_str());
  }
}

void FeatureCacheWriter::append(const torch::Tensor& inputs, const torch::Tensor& labels) {
  const auto host = inputs.contiguous().cpu();
  if (host.numel() * static_cast<std::int64_t>(host.element_size()) != host.size(0) * row_bytes_ ||
      written_ + host.size(0) > examples_) {
    throw Error("feature cache: a batch does not match the cache's shape");
  }
  write_all(file_, host.data_ptr(), static_cast<std::size_t>(host.size(0) * row_bytes_), partial_);
  const auto label_values = labels.to(torch::kCPU, torch::kLong).contiguous();
  const auto* data = label_values.data_ptr<std::int64_t>();
  labels_.insert(labels_.end(), data, data + label_values.numel());
  written_ += host.size(0);
}

void FeatureCacheWriter::commit() {
  if (written_ != examples_) throw Error("feature cache: " + partial_ + " is incomplete");
  write_all(file_, labels_.data(), labels_.size() * sizeof(std::int64_t), partial_);
  const bool flushed = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  std::fclose(file_);
  file_ = nullptr;
  std::error_code error;
  if (flushed) fs::rename(partial_, path_, error);
  if (!flushed || error) {
    std::remove(partial_.c_str());
    throw Error("feature cache: cannot complete " + path_ + ": " + (error ? error.message() : std::strerror(errno)));
  }
}

std::optional<CachedActivations> open_feature_cache(const std::string& path, const std::string& key,
                                                    std::int64_t examples) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat status {};
  auto mapping = std::make_shared<Mapping>();
  if (::fstat(fd, &status) == 0 && status.st_size >= kHeaderBytes) {
    mapping->bytes = static_cast<std::size_t>(status.st_size);
    mapping->address = ::mmap(nullptr, mapping->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  }
  ::close(fd);
  if (mapping->address == MAP_FAILED) return std::nullopt;

  Header header{};
  std::memcpy(&header, mapping->address, sizeof header);
  const bool valid = std::memcmp(header.magic, kMagic, sizeof kMagic) == 0 && header.version == kVersion &&
                     header.dtype <= 1 && header.rank >= 0 && header.rank <= static_cast<std::int64_t>(kMaxRank) &&
                     std::string(header.key, strnlen(header.key, sizeof header.key)) == key &&
                     header.examples == examples;
  if (!valid) return std::nullopt;
  for (std::int64_t d = 0; d < header.rank; ++d) {
    if (header.shape[d] <= 0 || header.shape[d] > (1LL << 30)) return std::nullopt;
  }
  const std::int64_t activation_bytes = examples * row_bytes(header);
  if (static_cast<std::int64_t>(mapping->bytes) != kHeaderBytes + activation_bytes + examples * 8) {
    return std::nullopt;
  }
  std::vector<std::int64_t> sizes{examples};
  sizes.insert(sizes.end(), header.shape, header.shape + header.rank);
  auto* base = static_cast<char*>(mapping->address);
  auto keep = [mapping](void*) {};  // each tensor holds the mapping until it is freed
  CachedActivations cached;
  cached.inputs = torch::from_blob(base + kHeaderBytes, sizes, keep, torch::dtype(dtype_of(header.dtype)));
  cached.labels = torch::from_blob(base + kHeaderBytes + activation_bytes, {examples}, keep, torch::kLong);
  return cached;
}

}  // namespace ft
