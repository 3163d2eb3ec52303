#include "idx_reader.h"
#include "temp_dir.h"

#include <ftsdk/error.h>

#include <zlib.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>

using Catch::Matchers::Contains;

namespace {

const std::string kFashionMnist = "/usr/share/datasets/fashion-mnist/";

void write_gz(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

// An IDX header for `count` x 28 x 28 unsigned bytes, followed by `data_bytes` bytes.
std::vector<unsigned char> idx_images(std::uint32_t count, std::size_t data_bytes) {
  std::vector<unsigned char> bytes{0, 0, 8, 3};
  for (std::uint32_t dim : {count, 28u, 28u}) {
    for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<unsigned char>(dim >> shift));
  }
  bytes.resize(bytes.size() + data_bytes, 7);
  return bytes;
}

}  // namespace

TEST_CASE("the real Fashion-MNIST files read with their published shapes", "[idx][data]") {
  const auto images = ft_plugins::read_idx(kFashionMnist + "train-images-idx3-ubyte.gz");
  CHECK(images.dims == std::vector<std::int64_t>{60000, 28, 28});
  CHECK(images.data.size() == 60000u * 28 * 28);
  const auto labels = ft_plugins::read_idx(kFashionMnist + "train-labels-idx1-ubyte.gz");
  REQUIRE(labels.dims == std::vector<std::int64_t>{60000});
  CHECK(*std::max_element(labels.data.begin(), labels.data.end()) == 9);
  // Fashion-MNIST is balanced: 6,000 training images per class.
  CHECK(std::count(labels.data.begin(), labels.data.end(), 3) == 6000);
  const auto test = ft_plugins::read_idx(kFashionMnist + "t10k-images-idx3-ubyte.gz");
  CHECK(test.dims == std::vector<std::int64_t>{10000, 28, 28});
}

TEST_CASE("a file shorter than its header promises is refused with both sizes", "[idx]") {
  TempDir dir;
  write_gz(dir / "short.gz", idx_images(10, 100));
  CHECK_THROWS_AS(ft_plugins::read_idx(dir / "short.gz"), ft::DataError);
  CHECK_THROWS_WITH(ft_plugins::read_idx(dir / "short.gz"),
                    Contains("truncated: its header promises 10x28x28 = 7840 bytes of data, found 100"));
}

TEST_CASE("a cut-off gzip stream of the real file is refused", "[idx][data]") {
  TempDir dir;
  std::ifstream in(kFashionMnist + "t10k-labels-idx1-ubyte.gz", std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() > 1000);
  bytes.resize(bytes.size() / 2);
  std::ofstream(dir / "cut.gz", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  CHECK_THROWS_AS(ft_plugins::read_idx(dir / "cut.gz"), ft::DataError);
}

TEST_CASE("files that are not IDX, or missing, say so", "[idx]") {
  TempDir dir;
  std::ofstream(dir / "text.gz") << "hello, I am plain text";
  CHECK_THROWS_WITH(ft_plugins::read_idx(dir / "text.gz"), Contains("not an IDX file"));
  CHECK_THROWS_WITH(ft_plugins::read_idx(dir / "missing.gz"), Contains("missing.gz: file not found"));
  write_gz(dir / "floats.gz", {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0});
  CHECK_THROWS_WITH(ft_plugins::read_idx(dir / "floats.gz"), Contains("IDX data type 13 is not supported"));
}

TEST_CASE("a folder where an IDX file belongs is a data error naming it", "[idx]") {
  TempDir dir;
  std::filesystem::create_directories(dir / "train-images-idx3-ubyte.gz");
  CHECK_THROWS_MATCHES(
      ft_plugins::read_idx(dir / "train-images-idx3-ubyte.gz"), ft::DataError,
      Catch::Matchers::Message("IDX file " + (dir / "train-images-idx3-ubyte.gz") + " is a folder, not a file"));
}

TEST_CASE("an uncompressed IDX file reads too", "[idx]") {
  TempDir dir;
  const auto bytes = idx_images(2, 2 * 28 * 28);
  std::ofstream(dir / "plain", std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  const auto array = ft_plugins::read_idx(dir / "plain");
  CHECK(array.dims == std::vector<std::int64_t>{2, 28, 28});
  CHECK(array.data[0] == 7);
}

TEST_CASE("an IDX header promising more than the file holds is refused without allocating it", "[idx]") {
  TempDir dir;
  // 2^32-1 x 28 x 28 promises 3.4 TB: the reader must report the truncation, not exhaust memory.
  write_gz(dir / "huge.gz", idx_images(0xFFFFFFFFu, 100));
  CHECK_THROWS_WITH(ft_plugins::read_idx(dir / "huge.gz"), Contains("truncated") && Contains("found 100"));
  // Four dimensions of 2^32-1 overflow 64 bits.
  std::vector<unsigned char> bytes{0, 0, 8, 4};
  bytes.resize(4 + 16, 0xff);
  write_gz(dir / "overflow.gz", bytes);
  CHECK_THROWS_WITH(ft_plugins::read_idx(dir / "overflow.gz"), Contains("more than any file can hold"));
}
