// The CIFAR plugins against files written here in the official formats; on-device augmentation.
#include "cifar_files.h"
#include "data/augment.h"
#include "data/auto_augment.h"
#include "data/batch_source.h"
#include "image_folder_files.h"
#include "image_transforms.h"
#include "loader/plugin_catalog.h"
#include "log/log.h"
#include "temp_dir.h"

#include <ATen/CPUGeneratorImpl.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

using Catch::Matchers::Contains;

namespace {

struct Fixture {
  ft::PluginCatalog catalog;
  ft::log::ComponentLogger log{"test"};
  Fixture() { catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_cifar.so"); }

  std::shared_ptr<ft::Dataset> make(const std::string& type, const std::string& root,
                                    std::vector<std::pair<std::string, ft::ParamValue>> extra = {}) {
    ft::Params params("dataset");
    ft::ParamValue value;
    value.data = root;
    params.set("root", value);
    for (auto& [key, v] : extra) params.set(key, v);
    return catalog.make_dataset(type, params, {0, log, ""});
  }
};

ft::ParamValue value_of(decltype(ft::ParamValue::data) data) { return {std::move(data), {}}; }

// image_folder parameters that put every image of `root` in the training split (on_error = "skip").
ft::Params all_for_training(const std::string& root) {
  ft::Params params("dataset");
  params.set("root", value_of(root));
  params.set("validation_fraction", value_of(0.0));
  return params;
}

}  // namespace

TEST_CASE("cifar10 reads the official binary layout with a validation split", "[datasets][cifar]") {
  TempDir dir;
  write_cifar10(dir / "c10");
  Fixture f;
  auto dataset = f.make("cifar10", dir / "c10");
  const auto info = dataset->info();
  CHECK(info.num_classes == 10);
  CHECK(info.input.channels == 3);
  CHECK(info.class_names.at(9) == "truck");
  CHECK(dataset->train()->size() == 45000);
  CHECK(dataset->validation()->size() == 5000);
  CHECK(dataset->test()->size() == 10000);
  const auto tensors = dataset->train()->tensors();
  REQUIRE(tensors);
  CHECK(tensors->at(ft::tensor_names::kImages).sizes() == torch::IntArrayRef({45000, 3, 32, 32}));
  // Channel-major pixels decode to the values the writer put there, for the label it wrote.
  const auto example = dataset->train()->get(123);
  for (int c = 0; c < 3; ++c) {
    CHECK(example.at(ft::tensor_names::kImages)[c].max().item<int>() ==
          cifar_pixel_value(static_cast<int>(example.at(ft::tensor_names::kLabels).item<std::int64_t>()), c));
    CHECK(example.at(ft::tensor_names::kImages)[c].min().item<int>() ==
          cifar_pixel_value(static_cast<int>(example.at(ft::tensor_names::kLabels).item<std::int64_t>()), c));
  }
}

TEST_CASE("cifar100 reads fine or coarse labels, and class subsets are relabelled", "[datasets][cifar]") {
  TempDir dir;
  write_cifar100(dir / "c100");
  Fixture f;
  auto fine =
      f.make("cifar100", dir / "c100",
             {{"classes", value_of(ft::ParamValue::Array{value_of(std::int64_t{42}), value_of(std::int64_t{7})})},
              {"samples_per_class", value_of(std::int64_t{5})}});
  CHECK(fine->info().num_classes == 2);
  CHECK(fine->train()->size() == 10);
  const auto example = fine->train()->get(0);
  CHECK(example.at(ft::tensor_names::kLabels).item<std::int64_t>() == 0);  // class 42 comes first, so it is label 0
  CHECK(example.at(ft::tensor_names::kImages)[1].max().item<int>() == cifar_pixel_value(42, 1));
  auto coarse = f.make("cifar100", dir / "c100", {{"label", value_of(std::string("coarse"))}});
  CHECK(coarse->info().num_classes == 20);
}

TEST_CASE("missing and truncated CIFAR files are refused with names and sizes", "[datasets][cifar]") {
  TempDir dir;
  Fixture f;
  CHECK_THROWS_WITH(f.make("cifar10", dir / "none"),
                    Contains("CIFAR-10 not found: expected " + (dir / "none") + "/data_batch_1.bin"));
  CHECK_THROWS_WITH(f.make("cifar10", dir / "none"),
                    Contains("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"));
  write_cifar10(dir / "c10");
  std::filesystem::resize_file(dir / "c10/data_batch_3.bin", 30730000 - 1);
  CHECK_THROWS_WITH(f.make("cifar10", dir / "c10"),
                    Contains("data_batch_3.bin: 30729999 bytes is not a whole number of 3073-byte records"));
}

// A folder's size reads as 2^63 and was allocated (std::bad_alloc, exit code 3); a FIFO would block the read forever.
TEST_CASE("a folder or a FIFO where a CIFAR file belongs is a data error naming it", "[datasets][cifar]") {
  TempDir dir;
  Fixture f;
  write_cifar10(dir / "c10");
  std::filesystem::remove(dir / "c10/data_batch_2.bin");
  std::filesystem::create_directories(dir / "c10/data_batch_2.bin");
  CHECK_THROWS_MATCHES(
      f.make("cifar10", dir / "c10"), ft::DataError,
      Catch::Matchers::Message("CIFAR-10 file " + (dir / "c10/data_batch_2.bin") + " is a folder, not a file"));
  std::filesystem::remove(dir / "c10/data_batch_2.bin");
  REQUIRE(mkfifo((dir / "c10/data_batch_2.bin").c_str(), 0600) == 0);
  CHECK_THROWS_WITH(f.make("cifar10", dir / "c10"), Contains("data_batch_2.bin is not a regular file"));
}

TEST_CASE("CIFAR-format files with fewer records are accepted, labels outside the classes refused",
          "[datasets][cifar]") {
  TempDir dir;
  Fixture f;
  std::filesystem::create_directories(dir / "small");
  for (int batch = 1; batch <= 5; ++batch) {
    write_cifar_file(dir / ("small/data_batch_" + std::to_string(batch) + ".bin"), 40, 1, 10);
  }
  write_cifar_file(dir / "small/test_batch.bin", 20, 1, 10);
  auto dataset = f.make("cifar10", dir / "small", {{"validation_fraction", value_of(0.0)}});
  CHECK(dataset->train()->size() == 200);
  CHECK(dataset->test()->size() == 20);
  // Record 7 of the test file says class 12: CIFAR-10 has ten.
  {
    std::fstream file(dir / "small/test_batch.bin", std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(7 * 3073);
    file.put(12);
  }
  CHECK_THROWS_WITH(f.make("cifar10", dir / "small"),
                    Contains("test_batch.bin: record 7 has label 12, but the classes are 0..9"));
}

TEST_CASE("random crops shift the content within the padding and keep the shape", "[augment]") {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(1);
  // Images that are a ramp along the width: a crop shows as a shifted ramp.
  auto images = torch::arange(32, torch::kFloat).view({1, 1, 1, 32}).expand({64, 3, 32, 32}).contiguous() + 100;
  ft::AugmentConfig config;
  config.random_crop = true;
  const auto out = ft::augment_batch(images, config, generator, torch::zeros({1, 3, 1, 1}));
  CHECK(out.sizes() == images.sizes());
  CHECK(out.min().item<float>() >= 0);
  CHECK(out.max().item<float>() <= 131);
  CHECK(out.eq(0).any().item<bool>());  // some padding shows
  const auto shifts = (out.select(3, 16) - images.select(3, 16)).amax({1, 2});
  CHECK(std::get<0>(torch::_unique(shifts)).numel() > 3);  // different offsets per image
  CHECK(shifts.abs().max().item<float>() <= 4);
}

TEST_CASE("horizontal flips mirror about half of the images and nothing else", "[augment]") {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(2);
  auto images = torch::rand({200, 3, 8, 8});
  ft::AugmentConfig config;
  config.hflip = true;
  const auto out = ft::augment_batch(images, config, generator, torch::zeros({1, 3, 1, 1}));
  std::int64_t flipped = 0;
  for (std::int64_t i = 0; i < 200; ++i) {
    const bool same = torch::equal(out[i], images[i]);
    const bool mirrored = torch::equal(out[i], images[i].flip({2}));
    CHECK((same || mirrored));
    flipped += mirrored ? 1 : 0;
  }
  CHECK(flipped > 60);
  CHECK(flipped < 140);
}

TEST_CASE("image_folder decodes JPEG and PNG, resizes and crops to the input size", "[datasets][image_folder]") {
  TempDir dir;
  write_image_folder(dir / "images", 6);
  Fixture f;
  f.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_image_folder.so");
  ft::Params params("dataset");
  params.set("root", value_of(dir / "images"));
  params.set("image_size", value_of(std::int64_t{24}));
  params.set("validation_fraction", value_of(0.34));
  auto dataset = f.catalog.make_dataset("image_folder", params, {0, f.log, ""});
  CHECK(dataset->info().class_names == std::vector<std::string>{"class_0", "class_1"});
  CHECK(dataset->info().input.height == 24);
  CHECK(dataset->train()->size() == 8);
  CHECK(dataset->validation()->size() == 4);
  CHECK_FALSE(dataset->train()->tensors().has_value());
  for (std::int64_t i = 0; i < dataset->train()->size(); ++i) {
    const auto example = dataset->train()->get(i);
    REQUIRE(example.at(ft::tensor_names::kImages).sizes() == torch::IntArrayRef({3, 24, 24}));
    CHECK(example.at(ft::tensor_names::kImages).scalar_type() == torch::kUInt8);
    // Flat colours survive resizing (JPEG within a few levels).
    CHECK(std::abs(example.at(ft::tensor_names::kImages)[0].to(torch::kFloat).mean().item<float>() -
                   example.at(ft::tensor_names::kLabels).item<std::int64_t>() * 80) < 4);
    CHECK(std::abs(example.at(ft::tensor_names::kImages)[2].to(torch::kFloat).mean().item<float>() -
                   (200 - example.at(ft::tensor_names::kLabels).item<std::int64_t>() * 80)) < 4);
  }
}

TEST_CASE("image_folder reports unreadable images by path, and skips or refuses them", "[datasets][image_folder]") {
  TempDir dir;
  write_image_folder(dir / "images", 3);
  std::ofstream(dir / "images/class_1/broken.jpg") << "not a jpeg at all";
  Fixture f;
  f.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_image_folder.so");
  const ft::Params skip = all_for_training(dir / "images");
  auto dataset = f.catalog.make_dataset("image_folder", skip, {0, f.log, ""});
  CHECK(dataset->train()->size() == 6);
  ft::Params fail("dataset");
  fail.set("root", value_of(dir / "images"));
  fail.set("on_error", value_of(std::string("fail")));
  CHECK_THROWS_WITH(f.catalog.make_dataset("image_folder", fail, {0, f.log, ""}),
                    Contains("not readable images") && Contains("class_1/broken.jpg"));
  ft::Params missing("dataset");
  missing.set("root", value_of(dir / "nowhere"));
  CHECK_THROWS_WITH(f.catalog.make_dataset("image_folder", missing, {0, f.log, ""}), Contains("nowhere not found"));
}

TEST_CASE("image_folder refuses a file where its folder belongs, naming it", "[datasets][image_folder]") {
  TempDir dir;
  Fixture f;
  f.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_image_folder.so");
  std::ofstream(dir / "photos.tar") << "not a folder";
  CHECK_THROWS_MATCHES(f.catalog.make_dataset("image_folder", all_for_training(dir / "photos.tar"), {0, f.log, ""}),
                       ft::DataError,
                       Catch::Matchers::Message("image folder " + (dir / "photos.tar") +
                                                " is a file; expected a folder with one sub-folder "
                                                "per class"));
}

TEST_CASE("image_folder leaves out a PNG damaged after its header, and refuses an empty class folder",
          "[datasets][image_folder]") {
  TempDir dir;
  write_image_folder(dir / "images", 3);
  // A valid PNG header and size, then the image data cut off: a header check accepts it, decoding fails.
  const auto good = dir / "images/class_0/0.png";
  const auto size = std::filesystem::file_size(good);
  std::filesystem::copy_file(good, dir / "images/class_0/damaged.png");
  std::filesystem::resize_file(dir / "images/class_0/damaged.png", size / 2);
  Fixture f;
  f.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_image_folder.so");
  const ft::Params skip = all_for_training(dir / "images");
  auto dataset = f.catalog.make_dataset("image_folder", skip, {0, f.log, ""});
  CHECK(dataset->train()->size() == 6);
  for (std::int64_t i = 0; i < dataset->train()->size(); ++i) CHECK_NOTHROW(dataset->train()->get(i));

  std::filesystem::create_directories(dir / "images/class_2");
  std::ofstream(dir / "images/class_2/notes.txt") << "not an image";
  CHECK_THROWS_WITH(f.catalog.make_dataset("image_folder", skip, {0, f.log, ""}),
                    Contains("class folder class_2 holds no readable .jpg or .png image"));
}

namespace {

// Smooth colour gradients with a ripple: resizing errors show, unlike on flat colours.
std::vector<unsigned char> textured(int w, int h) {
  std::vector<unsigned char> pixels(static_cast<std::size_t>(w * h * 3));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        const double value = 127 + 60 * std::sin(0.21 * x + 1.3 * c) + 60 * std::cos(0.17 * y - 0.7 * c);
        pixels[static_cast<std::size_t>((y * w + x) * 3 + c)] = static_cast<unsigned char>(value);
      }
    }
  }
  return pixels;
}

// The image of class `label` (one image per class), as the dataset's training split gives it.
torch::Tensor image_of_class(const ft::Dataset& dataset, std::int64_t label, std::uint64_t draw = 0,
                             bool training = false) {
  const auto& split = *dataset.train();
  for (std::int64_t i = 0; i < split.size(); ++i) {
    const auto example = training ? split.get_for_training(i, draw) : split.get(i);
    if (example.at(ft::tensor_names::kLabels).item<std::int64_t>() == label)
      return example.at(ft::tensor_names::kImages);
  }
  FAIL("no image of class " << label);
  return {};
}

}  // namespace

TEST_CASE("image_folder's evaluation images are torchvision's Resize and CenterCrop of the decoded file",
          "[datasets][image_folder]") {
  TempDir dir;
  std::filesystem::create_directories(dir / "images/class_0");
  std::filesystem::create_directories(dir / "images/class_1");
  const auto wide = textured(61, 47), tall = textured(40, 73);
  stbi_write_png((dir / "images/class_0/wide.png").c_str(), 61, 47, 3, wide.data(), 61 * 3);
  stbi_write_png((dir / "images/class_1/tall.png").c_str(), 40, 73, 3, tall.data(), 40 * 3);
  Fixture f;
  f.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_image_folder.so");
  ft::Params params = all_for_training(dir / "images");
  params.set("image_size", value_of(std::int64_t{24}));
  auto dataset = f.catalog.make_dataset("image_folder", params, {0, f.log, ""});
  CHECK_FALSE(dataset->train()->draws_random());

  // torchvision.transforms.v2 on the file torchvision decodes; its defaults: Resize(27) for a 24 crop.
  for (const auto& [name, label] :
       {std::pair<std::string, std::int64_t>{"class_0/wide.png", 0}, {"class_1/tall.png", 1}}) {
    const auto expected_file = dir / ("expected-" + std::to_string(label));
    const std::string command =
        std::string(FT_PYTHON) +
        " -c \"import sys; from torchvision.io import decode_image; from torchvision.transforms import v2; "
        "img = decode_image(sys.argv[1]); out = v2.CenterCrop(24)(v2.Resize(27, antialias=True)(img)); "
        "open(sys.argv[2], 'wb').write(out.contiguous().numpy().tobytes())\" " +
        (dir / ("images/" + name)) + " " + expected_file;
    REQUIRE(std::system(command.c_str()) == 0);
    std::ifstream in(expected_file, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() == 3 * 24 * 24);
    const auto expected = torch::from_blob(bytes.data(), {3, 24, 24}, torch::kUInt8).to(torch::kInt);
    const auto image = image_of_class(*dataset, label).to(torch::kInt);
    INFO(name);
    // torchvision resizes uint8 with its own integer kernel: within one level of the float result.
    CHECK((image - expected).abs().max().item<int>() <= 1);
  }
}

TEST_CASE("image_folder decodes large JPEGs at a reduced scale, and draws random resized crops reproducibly",
          "[datasets][image_folder]") {
  TempDir dir;
  std::filesystem::create_directories(dir / "images/class_0");
  std::filesystem::create_directories(dir / "images/class_1");
  const auto big = textured(480, 360);
  stbi_write_jpg((dir / "images/class_0/big.jpg").c_str(), 480, 360, 3, big.data(), 95);
  stbi_write_jpg((dir / "images/class_1/big.jpg").c_str(), 480, 360, 3, big.data(), 95);
  Fixture f;
  f.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_image_folder.so");
  auto make = [&](bool dct_scaling, bool random_crop) {
    ft::Params params = all_for_training(dir / "images");
    params.set("image_size", value_of(std::int64_t{24}));
    params.set("dct_scaling", value_of(dct_scaling));
    params.set("random_resized_crop", value_of(random_crop));
    return f.catalog.make_dataset("image_folder", params, {0, f.log, ""});
  };
  // 360 → 27 pixels: decoded at 1/8 (45 pixels) instead of in full; the result differs by a little blur.
  const auto full = image_of_class(*make(false, false), 0).to(torch::kFloat);
  const auto scaled = image_of_class(*make(true, false), 0).to(torch::kFloat);
  CHECK((full - scaled).abs().mean().item<float>() < 3.0);
  CHECK((full - scaled).abs().mean().item<float>() > 0.0);

  auto cropping = make(true, true);
  CHECK(cropping->train()->draws_random());
  const auto a = image_of_class(*cropping, 0, 7, true), again = image_of_class(*cropping, 0, 7, true);
  const auto b = image_of_class(*cropping, 0, 8, true);
  CHECK(a.sizes() == torch::IntArrayRef({3, 24, 24}));
  CHECK(torch::equal(a, again));  // the draw decides
  CHECK_FALSE(torch::equal(a, b));
  CHECK(torch::equal(image_of_class(*cropping, 0), full.to(torch::kUInt8)) == false);  // evaluation: the centre
}

TEST_CASE("random resized crop windows follow torchvision's scale and ratio ranges", "[datasets][image_folder]") {
  std::mt19937_64 random(1);
  double area = 0;
  int fallback = 0;
  const int draws = 4000;
  for (int i = 0; i < draws; ++i) {
    const auto box = ft_plugins::random_resized_crop_box(100, 80, random, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0);
    REQUIRE(box.top >= 0);
    REQUIRE(box.left >= 0);
    REQUIRE(box.top + box.height <= 80);
    REQUIRE(box.left + box.width <= 100);
    const double fraction = box.width * box.height / 8000.0;
    CHECK(fraction >= 0.07);
    const double ratio = static_cast<double>(box.width) / box.height;
    CHECK(ratio > 0.7);
    CHECK(ratio < 1.4);
    area += fraction;
    fallback += box.width == 100 && box.height == 80;
  }
  // Uniform scale in [0.08, 1] has mean 0.54; windows that do not fit are redrawn, which favours smaller ones.
  CHECK(area / draws > 0.40);
  CHECK(area / draws < 0.56);
  CHECK(fallback < draws / 20);
}

namespace {

// Runs `script` (Python, torchvision beside the LibTorch under test) on `images` / 255, written to
// <folder>/images.bin as float32; the script writes <folder>/expected.bin, read back as `shape`, times 255.
torch::Tensor torchvision_reference(const TempDir& dir, const torch::Tensor& images, const std::string& script,
                                    std::vector<std::int64_t> shape) {
  const auto data = (images / 255).contiguous().to(torch::kFloat32);
  std::ofstream(dir / "images.bin", std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data_ptr<float>()), data.numel() * 4);
  std::ofstream(dir / "reference.py") << script;
  const std::string command = std::string(FT_PYTHON) + " " + dir / "reference.py" + " " + dir.path().string();
  if (std::system(command.c_str()) != 0) FAIL("the torchvision reference failed: " << command);
  auto expected = torch::empty(shape, torch::kFloat32);
  std::ifstream in(dir / "expected.bin", std::ios::binary);
  in.read(reinterpret_cast<char*>(expected.data_ptr<float>()), expected.numel() * 4);
  REQUIRE(in.gcount() == expected.numel() * 4);
  return expected * 255;
}

}  // namespace

TEST_CASE(
    "colour jitter and erasing are torchvision's adjust_brightness, adjust_contrast, adjust_saturation and "
    "erase",
    "[augment]") {
  TempDir dir;
  torch::manual_seed(4);
  const auto images = torch::rand({3, 3, 6, 7}) * 255;
  const auto factors = torch::tensor({0.6, 1.0, 1.4}, torch::kFloat64);
  const auto boxes = torch::tensor({{1, 2, 3, 4}, {0, 0, 0, 0}, {0, 0, 6, 1}}, torch::kLong);
  const auto value = torch::tensor({10.0f, 20.0f, 30.0f}).view({1, 3, 1, 1});
  const std::vector<torch::Tensor> ours{ft::adjust_brightness(images, factors), ft::adjust_contrast(images, factors),
                                        ft::adjust_saturation(images, factors), ft::erase(images, boxes, value)};
  // torchvision on float images in [0, 1], image by image, with the same factors and boxes.
  const std::string script = R"(
import sys, numpy as np, torch
from torchvision.transforms.v2 import functional as F
folder = sys.argv[1]
images = torch.from_numpy(np.fromfile(folder + "/images.bin", dtype=np.float32)).view(3, 3, 6, 7)
factors, boxes = [0.6, 1.0, 1.4], [(1, 2, 3, 4), (0, 0, 0, 0), (0, 0, 6, 1)]
value = torch.tensor([10.0, 20.0, 30.0]).view(3, 1, 1) / 255
out = [torch.stack([F.adjust_brightness(images[i], factors[i]) for i in range(3)]),
       torch.stack([F.adjust_contrast(images[i], factors[i]) for i in range(3)]),
       torch.stack([F.adjust_saturation(images[i], factors[i]) for i in range(3)]),
       torch.stack([F.erase(images[i], *boxes[i], value) if boxes[i][2] else images[i] for i in range(3)])]
torch.stack(out).numpy().astype(np.float32).tofile(folder + "/expected.bin")
)";
  const auto expected = torchvision_reference(dir, images, script, {4, 3, 3, 6, 7});
  const char* names[] = {"brightness", "contrast", "saturation", "erase"};
  for (int k = 0; k < 4; ++k) {
    INFO(names[k]);
    CHECK(torch::allclose(ours[k], expected[k], 1e-4, 1e-3));
  }
}

TEST_CASE("random erasing erases about erasing_prob of the images, boxes of 2-33 % of the area", "[augment]") {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto images = torch::full({2000, 3, 16, 16}, 100.0f);
  ft::AugmentConfig config;
  config.random_erasing = true;
  config.erasing_prob = 0.25;
  const auto mean = torch::full({1, 3, 1, 1}, 7.0f);
  const auto out = ft::augment_batch(images, config, generator, mean);
  const auto erased = out.eq(7.0f).all(1).sum({1, 2}).to(torch::kFloat64) / 256.0;  // share of each image erased
  const double share = erased.gt(0).to(torch::kFloat64).mean().item<double>();
  CHECK(share == Approx(0.25).margin(0.03));
  const auto sizes = erased.masked_select(erased.gt(0));
  CHECK(sizes.min().item<double>() >= 0.015);
  CHECK(sizes.max().item<double>() <= 0.37);                          // 33 %, plus the rounding of both sides
  CHECK(out.eq(100.0f).logical_or(out.eq(7.0f)).all().item<bool>());  // nothing else changes
}

TEST_CASE("colour jitter draws a factor per image within [1 - s, 1 + s]", "[augment]") {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(5);
  // Grey images: contrast and saturation leave them as they are, so only brightness shows.
  const auto images = torch::full({500, 3, 4, 4}, 100.0f);
  ft::AugmentConfig config;
  config.color_jitter = true;
  config.jitter_strength = 0.4;
  const auto out = ft::augment_batch(images, config, generator, torch::zeros({1, 3, 1, 1}));
  const auto brightness = out.select(1, 0).select(1, 0).select(1, 0) / 100.0;
  CHECK(brightness.min().item<float>() >= 0.6 - 1e-4);
  CHECK(brightness.max().item<float>() <= 1.4 + 1e-4);
  CHECK(brightness.mean().item<float>() == Approx(1.0).margin(0.03));
  CHECK(std::get<0>(torch::_unique(brightness)).numel() > 400);  // one factor per image
}

TEST_CASE("the device's random resized crop is torchvision's resized_crop inside the window", "[augment]") {
  TempDir dir;
  torch::manual_seed(6);
  const auto images = torch::rand({2, 3, 16, 20}) * 255;
  // Windows (top, left, height, width): one touching the top-left corner, one in the middle.
  const auto boxes = torch::tensor({{0, 0, 8, 10}, {3, 5, 9, 7}}, torch::kLong);
  const auto ours = ft::resized_crop(images, boxes);
  CHECK(ours.sizes() == images.sizes());
  const std::string script = R"(
import sys, numpy as np, torch
from torchvision.transforms.v2 import functional as F
folder = sys.argv[1]
images = torch.from_numpy(np.fromfile(folder + "/images.bin", dtype=np.float32)).view(2, 3, 16, 20)
boxes = [(0, 0, 8, 10), (3, 5, 9, 7)]
out = torch.stack([F.resized_crop(images[i], *boxes[i], size=[16, 20], antialias=True) for i in range(2)])
out.numpy().astype(np.float32).tofile(folder + "/expected.bin")
)";
  const auto expected = torchvision_reference(dir, images, script, {2, 3, 16, 20});
  // Output pixels whose sample points lie inside the window agree; the first and last ones may read just past its
  // edges (torchvision clamps to the window, the batched grid sample to the image), except where the window
  // touches the image's border: the first box's top and left.
  CHECK(torch::allclose(ours[0].slice(1, 0, 14).slice(2, 0, 18), expected[0].slice(1, 0, 14).slice(2, 0, 18), 1e-4,
                        1e-2));
  CHECK(torch::allclose(ours[1].slice(1, 1, 14).slice(2, 1, 17), expected[1].slice(1, 1, 14).slice(2, 1, 17), 1e-4,
                        1e-2));
}

TEST_CASE("TrivialAugment's and RandAugment's operations are torchvision's", "[augment]") {
  const std::vector<std::pair<ft::AugmentOp, double>> cases{
      {ft::AugmentOp::identity, 0},      {ft::AugmentOp::shear_x, 0.3},     {ft::AugmentOp::shear_x, -0.5},
      {ft::AugmentOp::shear_y, 0.66},    {ft::AugmentOp::translate_x, 5.7}, {ft::AugmentOp::translate_x, -3.0},
      {ft::AugmentOp::translate_y, 4.0}, {ft::AugmentOp::rotate, 30.0},     {ft::AugmentOp::rotate, -45.0},
      {ft::AugmentOp::rotate, 90.0},     {ft::AugmentOp::brightness, 0.5},  {ft::AugmentOp::color, -0.5},
      {ft::AugmentOp::contrast, 0.7},    {ft::AugmentOp::sharpness, 0.9},   {ft::AugmentOp::sharpness, -0.6},
      {ft::AugmentOp::posterize, 4},     {ft::AugmentOp::posterize, 8},     {ft::AugmentOp::solarize, 0.5},
      {ft::AugmentOp::auto_contrast, 0}, {ft::AugmentOp::equalize, 0}};
  std::string listing;
  for (const auto& [op, magnitude] : cases)
    listing += "(\"" + ft::augment_op_name(op) + "\", " + std::to_string(magnitude) + "), ";
  for (const auto& [h, w] : {std::pair<std::int64_t, std::int64_t>{12, 12}, {10, 14}}) {
    INFO(h << "x" << w);
    TempDir dir;
    torch::manual_seed(8);
    // Smooth content with a few flat areas, so equalize and autocontrast have something to do.
    const auto images = (torch::rand({2, 3, h, w}) * 200 + 20).round();
    const std::string script =
        "import sys, numpy as np, torch\nfrom torchvision.transforms import v2\nfolder = sys.argv[1]\n"
        "images = torch.from_numpy(np.fromfile(folder + '/images.bin', dtype=np.float32)).view(2, 3, " +
        std::to_string(h) + ", " + std::to_string(w) + ")\n" + "t = v2.TrivialAugmentWide()\ncases = [" + listing +
        "]\n" +
        "out = [t._apply_image_or_video_transform(images, name, magnitude, t.interpolation, t._fill)"
        " for name, magnitude in cases]\n"
        "torch.stack(out).numpy().astype(np.float32).tofile(folder + '/expected.bin')\n";
    const auto expected =
        torchvision_reference(dir, images, script, {static_cast<std::int64_t>(cases.size()), 2, 3, h, w});
    for (std::size_t k = 0; k < cases.size(); ++k) {
      INFO(ft::augment_op_name(cases[k].first) << " " << cases[k].second);
      const auto ours = ft::apply_augment_op(images, cases[k].first, cases[k].second);
      CHECK(torch::allclose(ours, expected[static_cast<std::int64_t>(k)], 1e-4, 1e-2));
    }
  }
}

TEST_CASE("TrivialAugment and RandAugment transform each image on its own, reproducibly", "[augment]") {
  torch::manual_seed(9);
  const auto images = (torch::rand({400, 3, 16, 16}) * 255).round();
  for (const bool rand : {false, true}) {
    INFO((rand ? "rand_augment" : "trivial_augment"));
    ft::AugmentConfig config;
    config.trivial_augment = !rand;
    config.rand_augment = rand;
    auto first = at::make_generator<at::CPUGeneratorImpl>(10), again = at::make_generator<at::CPUGeneratorImpl>(10);
    const auto out = ft::augment_batch(images, config, first, torch::zeros({1, 3, 1, 1}));
    CHECK(torch::equal(out, ft::augment_batch(images, config, again, torch::zeros({1, 3, 1, 1}))));
    CHECK(out.sizes() == images.sizes());
    CHECK(out.min().item<float>() >= 0);
    CHECK(out.max().item<float>() <= 255);
    // Identity is one of 14 operations (and a few others can leave an image as it was): a minority is unchanged.
    const double unchanged = out.eq(images).flatten(1).all(1).to(torch::kFloat64).mean().item<double>();
    CHECK(unchanged < (rand ? 0.1 : 0.2));
    CHECK(unchanged > (rand ? 0.0 : 0.03));
  }
}

namespace {

// Examples with boxes: example i has i % 3 objects. Example 5 is the odd one out: its image 40 x 6 pixels with its
// size beside it (`other_size`), or its labels a matrix (`other_labels`).
enum class OddExample { none, other_size, other_labels };
class BoxSplit final : public ft::Split {
 public:
  explicit BoxSplit(OddExample odd = OddExample::none) : odd_(odd) {}
  std::int64_t size() const override { return 8; }
  ft::Example get(std::int64_t index) const override {
    const std::int64_t objects = index % 3;
    const bool odd = index == 5;
    const std::int64_t height = odd && odd_ == OddExample::other_size ? 40 : 4,
                       width = odd && odd_ == OddExample::other_size ? 6 : 4;
    ft::Example example = {{ft::tensor_names::kImages, torch::full({1, height, width}, 10 * index, torch::kUInt8)},
                           {ft::tensor_names::kBoxes, torch::full({objects, 4}, static_cast<float>(index + 1))},
                           {ft::tensor_names::kBoxLabels, odd && odd_ == OddExample::other_labels
                                                              ? torch::full({objects, 2}, index + 1, torch::kInt64)
                                                              : torch::full({objects}, index + 1, torch::kInt64)}};
    if (odd_ == OddExample::other_size) {
      example[ft::tensor_names::kImageSizes] = torch::tensor({height, width}, torch::kInt64);
    }
    return example;
  }

 private:
  OddExample odd_;
};

}  // namespace

TEST_CASE("Examples with different numbers of boxes are collated padded, with each example's count", "[data]") {
  ft::DatasetInfo info;
  info.input = {1, 4, 4};
  const ft::BatchSource source(std::make_shared<BoxSplit>(), info, c10::Device(c10::kCPU));
  const auto batch = source.batch(torch::tensor({0, 1, 2, 4, 3}, torch::kInt64));
  CHECK(batch.at("images").sizes() == torch::IntArrayRef({5, 1, 4, 4}));
  REQUIRE(batch.at("boxes").sizes() == torch::IntArrayRef({5, 2, 4}));
  CHECK(torch::equal(batch.at("boxes_count"), torch::tensor({0, 1, 2, 1, 0}, torch::kInt64)));
  CHECK(torch::equal(batch.at("box_labels_count"), batch.at("boxes_count")));
  const auto boxes = batch.at("boxes"), labels = batch.at("box_labels");
  CHECK(torch::equal(boxes[2], torch::full({2, 4}, 3.0f)));  // both real rows
  CHECK(torch::equal(boxes[1][0], torch::full({4}, 2.0f)));  // the real row
  CHECK(torch::equal(boxes[1][1], torch::zeros({4})));       // padding
  CHECK(torch::equal(boxes[0], torch::zeros({2, 4})));       // no objects: all padding
  CHECK(torch::equal(labels[3], torch::tensor({5, 0}, torch::kInt64)));

  // Examples with one number of boxes stack as they are: no count, every row real.
  const auto even = source.batch(torch::tensor({1, 4, 7}, torch::kInt64));
  CHECK(even.at("boxes").sizes() == torch::IntArrayRef({3, 1, 4}));
  CHECK_FALSE(even.contains("boxes_count"));

  const ft::BatchSource mismatched(std::make_shared<BoxSplit>(OddExample::other_labels), info, c10::Device(c10::kCPU));
  CHECK_NOTHROW(mismatched.batch(torch::tensor({0, 1}, torch::kInt64)));
  CHECK_THROWS_WITH(mismatched.batch(torch::tensor({4, 5}, torch::kInt64)),
                    Catch::Contains("examples differ in the shape of 'box_labels' ([1] and [2, 2])"));
}

TEST_CASE("Images of several sizes are padded to the batch's largest, rounded up to 32, padding 0 once normalised",
          "[data]") {
  ft::DatasetInfo info;
  info.input = {1, 40, 6};
  info.mean = {0.5};
  info.std = {0.25};
  const ft::BatchSource source(std::make_shared<BoxSplit>(OddExample::other_size), info, c10::Device(c10::kCPU));
  const auto batch = source.batch(torch::tensor({4, 5}, torch::kInt64));
  // 40 x 6 and 4 x 4: 64 x 32, as torchvision's batch_images pads them.
  const auto images = batch.at("images");
  REQUIRE(images.sizes() == torch::IntArrayRef({2, 1, 64, 32}));
  CHECK(torch::equal(batch.at("image_sizes"), torch::tensor({{4, 4}, {40, 6}}, torch::kInt64)));
  // Each image's own pixels normalised, the padding 0 (the mean colour: torchvision pads after normalising).
  const auto normalised = [](double pixel) { return static_cast<float>((pixel / 255.0 - 0.5) / 0.25); };
  CHECK(torch::allclose(images[0][0].slice(0, 0, 4).slice(1, 0, 4), torch::full({4, 4}, normalised(40))));
  CHECK(torch::allclose(images[1][0].slice(0, 0, 40).slice(1, 0, 6), torch::full({40, 6}, normalised(50))));
  CHECK(images[0][0].slice(0, 4).abs().max().item<float>() == 0);
  CHECK(images[0][0].slice(1, 4).abs().max().item<float>() == 0);
  CHECK(images[1][0].slice(0, 40).abs().max().item<float>() == 0);
  CHECK(images[1][0].slice(1, 6).abs().max().item<float>() == 0);
  // Images of one size stack as they are, unpadded.
  CHECK(source.batch(torch::tensor({1, 2}, torch::kInt64)).at("images").sizes() == torch::IntArrayRef({2, 1, 4, 4}));
}

namespace {

// The boxes and categories of the first image of a COCO file, read with nlohmann::json, not with ftrun's reader.
std::vector<std::pair<std::vector<double>, std::int64_t>> first_image_objects(const std::string& path) {
  std::ifstream file(path);
  const auto json = nlohmann::json::parse(file);
  const auto first = json["images"][0]["id"].get<std::int64_t>();
  std::vector<std::pair<std::vector<double>, std::int64_t>> out;
  for (const auto& annotation : json["annotations"]) {
    if (annotation["image_id"] == first) {
      out.emplace_back(annotation["bbox"].get<std::vector<double>>(), annotation["category_id"].get<std::int64_t>());
    }
  }
  return out;
}

ft::ParamValue strings(const std::vector<std::string>& texts) {
  std::vector<ft::ParamValue> list;
  for (const auto& text : texts) list.push_back(value_of(text));
  return value_of(list);
}

// The Fashion-MNIST detection set (scripts/fashion_mnist_detection.py), small, in `folder`.
bool make_detection_set(const std::string& folder, const std::string& arguments = "--train 40 --val 10 --test 10") {
  if (!std::ifstream("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) return false;
  const std::string command = std::string(FT_PYTHON) + " " + FT_REFERENCE_DIR +
                              "/../../scripts/fashion_mnist_detection.py " + folder + " " + arguments + " > /dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  return true;
}

}  // namespace

TEST_CASE("coco reads a COCO folder: images, boxes in pixels, labels by category, subsets, letterboxing",
          "[datasets][coco]") {
  TempDir dir;
  if (!make_detection_set(dir / "set")) {
    WARN("not run: Debian's dataset-fashion-mnist is not installed");
    return;
  }
  Fixture f;
  f.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_coco.so");
  auto make = [&](std::vector<std::pair<std::string, ft::ParamValue>> extra) {
    ft::Params params("dataset");
    params.set("root", value_of(dir / "set"));
    params.set("test_split", value_of(std::string("test")));
    for (auto& [key, value] : extra) params.set(key, value);
    return f.catalog.make_dataset("coco", params, {0, f.log, ""});
  };
  const auto dataset = make({});
  CHECK(dataset->info().num_classes == 10);
  CHECK(dataset->info().class_names.at(9) == "Ankle boot");
  CHECK(dataset->info().input.height == 128);
  CHECK(dataset->train()->size() == 40);
  CHECK(dataset->validation()->size() == 10);
  CHECK(dataset->test()->size() == 10);
  // The first training canvas against its annotations: COCO's [x, y, w, h] become [x1, y1, x2, y2].
  const auto annotations = first_image_objects(dir / "set/annotations/instances_train.json");
  const auto example = dataset->train()->get(0);
  CHECK(example.at("images").sizes() == torch::IntArrayRef({3, 128, 128}));
  const auto boxes = example.at("boxes");
  REQUIRE(boxes.size(0) == static_cast<std::int64_t>(annotations.size()));
  for (std::int64_t k = 0; k < boxes.size(0); ++k) {
    const auto& [bbox, category] = annotations[static_cast<std::size_t>(k)];
    CHECK(boxes[k][0].item<float>() == Approx(bbox[0]));
    CHECK(boxes[k][3].item<float>() == Approx(bbox[1] + bbox[3]));
    CHECK(example.at("box_labels")[k].item<std::int64_t>() == category - 1);
    // The box holds the item: its pixels are bright inside, and the image is black outside every box.
    const auto inside = example.at("images")[0]
                            .slice(0, static_cast<std::int64_t>(bbox[1]), static_cast<std::int64_t>(bbox[1] + bbox[3]))
                            .slice(1, static_cast<std::int64_t>(bbox[0]), static_cast<std::int64_t>(bbox[0] + bbox[2]));
    CHECK(inside.max().item<std::uint8_t>() > 24);
  }

  // Five categories: labels 0-4 in category-id order, the other items' boxes gone.
  const auto names = strings({"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"});
  const auto five = make({{"categories", names}});
  CHECK(five->info().num_classes == 5);
  CHECK(five->info().class_names.front() == "Sandal");
  for (std::int64_t i = 0; i < five->train()->size(); ++i) {
    const auto labels = five->train()->get(i).at("box_labels");
    if (labels.numel() > 0) CHECK(labels.max().item<std::int64_t>() < 5);
  }
  // Two images per category at most what is needed; letterboxed to 64: boxes halved.
  CHECK(make({{"categories", names}, {"shots", value_of(std::int64_t{2})}})->train()->size() < 10);
  const auto small = make({{"image_size", value_of(std::int64_t{64})}});
  CHECK(small->info().input.width == 64);
  const auto halved = small->train()->get(0).at("boxes");
  CHECK(torch::allclose(halved, boxes / 2));

  // Training augmentation: each draw flips (or not) and shrinks the image, and the boxes follow it exactly.
  const auto augmented = make({{"hflip", value_of(true)},
                               {"scale_range", value_of(std::vector<ft::ParamValue>{value_of(0.5), value_of(1.0)})}});
  CHECK(augmented->train()->draws_random());
  int flips = 0;
  for (std::uint64_t draw = 0; draw < 12; ++draw) {
    INFO("draw " << draw);
    const auto drawn = augmented->train()->get_for_training(0, draw);
    CHECK(torch::equal(drawn.at("images"), augmented->train()->get_for_training(0, draw).at("images")));
    const auto b = drawn.at("boxes");
    const double shrink = ((b[0][3] - b[0][1]) / (boxes[0][3] - boxes[0][1])).item<double>();
    CHECK((shrink >= 0.49 && shrink <= 1.0));
    const bool flipped = !torch::allclose(b.select(1, 0), boxes.select(1, 0) * shrink, 1e-4, 1e-3);
    flips += flipped ? 1 : 0;
    const auto x1 = flipped ? 128 * shrink - boxes.select(1, 2) * shrink : boxes.select(1, 0) * shrink;
    CHECK(torch::allclose(b.select(1, 0), x1, 1e-4, 1e-3));
    CHECK(torch::allclose(b.select(1, 3), boxes.select(1, 3) * shrink, 1e-4, 1e-3));
    for (std::int64_t k = 0; k < b.size(0); ++k) {  // each item still inside its box
      const auto inside = drawn.at("images")[0]
                              .slice(0, b[k][1].item<std::int64_t>(), b[k][3].item<std::int64_t>() + 1)
                              .slice(1, b[k][0].item<std::int64_t>(), b[k][2].item<std::int64_t>() + 1);
      CHECK(inside.max().item<std::uint8_t>() > 24);
    }
  }
  CHECK(flips > 0);
  CHECK(flips < 12);

  // An image rewritten after the annotations were read (the set built again mid-run) is refused, not trained on.
  const auto path = dir / "set/train/000001.png";
  std::filesystem::last_write_time(path, std::filesystem::last_write_time(path) + std::chrono::seconds(5));
  CHECK_THROWS_WITH(dataset->train()->get(0), Contains("000001.png changed after the run read its annotations"));
  CHECK_NOTHROW(make({})->train()->get(0));

  // Mistakes: a missing image, an unknown category, a missing split.
  std::filesystem::remove(dir / "set/val/000003.png");
  CHECK_THROWS_WITH(make({}),
                    Contains("names images that are missing from " + (dir / "set/val")) && Contains("000003.png"));
  CHECK_THROWS_WITH(make({{"categories", strings({"Sandals"})}}), Contains("has no category 'Sandals'"));
  CHECK_THROWS_WITH(make({{"train_split", value_of(std::string("train2017"))}}),
                    Contains("instances_train2017.json not found"));
}

TEST_CASE("coco resizes images of several sizes as torchvision's detectors do, and boxes map back to the file's pixels",
          "[datasets][coco]") {
  TempDir dir;
  if (!make_detection_set(dir / "set", "--train 12 --val 4 --test 4 --canvas 70 170")) {
    WARN("not run: Debian's dataset-fashion-mnist is not installed");
    return;
  }
  Fixture f;
  f.catalog.load_file(std::string(FT_PLUGIN_DIR) + "/ft_coco.so");
  ft::Params params("dataset");
  params.set("root", value_of(dir / "set"));
  params.set("min_size", value_of(std::int64_t{100}));
  params.set("max_size", value_of(std::int64_t{150}));
  const auto dataset = f.catalog.make_dataset("coco", params, {0, f.log, ""});
  const auto split = dataset->train();

  // torchvision's GeneralizedRCNNTransform(100, 150) on each training image: its resized height and width.
  std::ofstream(dir / "sizes.py") << R"(
import json, sys, torch
from torchvision.models.detection.transform import GeneralizedRCNNTransform
transform = GeneralizedRCNNTransform(100, 150, [0.0], [1.0]).eval()
with open(sys.argv[1] + "/set/annotations/instances_train.json") as f:
    images = json.load(f)["images"]
with open(sys.argv[1] + "/sizes.txt", "w") as out:
    for image in images:
        batch, _ = transform([torch.zeros(1, image["height"], image["width"])])
        out.write("%d %d\n" % batch.image_sizes[0])
)";
  const std::string command = std::string(FT_PYTHON) + " " + dir / "sizes.py" + " " + dir.path().string();
  REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream sizes(dir / "sizes.txt");
  std::ifstream annotations_file(dir / "set/annotations/instances_train.json");
  const auto annotations = nlohmann::json::parse(annotations_file);
  std::int64_t boxes_checked = 0;
  std::vector<torch::Tensor> images;
  for (std::int64_t i = 0; i < split->size(); ++i) {
    std::int64_t height = 0, width = 0;
    REQUIRE(sizes >> height >> width);
    INFO("image " << i << ": torchvision " << height << "x" << width);
    const auto example = split->get(i);
    CHECK(example.at("images").sizes() == torch::IntArrayRef({3, height, width}));
    CHECK(torch::equal(example.at("image_sizes"), torch::tensor({height, width}, torch::kInt64)));
    // Boxes divided by the scales are the annotation's, in the file's pixels; areas are the annotation's.
    const auto original = example.at("boxes") / example.at("image_scales").repeat({2});
    const auto id = example.at("image_ids").item<std::int64_t>();
    std::int64_t k = 0;
    for (const auto& annotation : annotations["annotations"]) {
      if (annotation["image_id"] != id) continue;
      const auto bbox = annotation["bbox"].get<std::vector<double>>();
      CHECK(original[k][0].item<double>() == Approx(bbox[0]).margin(1e-3));
      CHECK(original[k][3].item<double>() == Approx(bbox[1] + bbox[3]).margin(1e-3));
      CHECK(example.at("box_areas")[k].item<double>() == Approx(annotation["area"].get<double>()));
      ++k;
      ++boxes_checked;
    }
    images.push_back(example.at("images"));
  }
  CHECK(boxes_checked > 10);
  // The largest resized image bounds the dataset's input; a batch of them pads to multiples of 32.
  CHECK(dataset->info().input.height <= 150);
  CHECK(dataset->info().input.width <= 150);
  ft::NamedTensors batch;
  const auto padded = ft::collate("images", images, batch);
  CHECK(padded.size(2) % 32 == 0);
  CHECK(padded.size(3) % 32 == 0);
  CHECK(padded.size(2) >= dataset->info().input.height);

  // Several min_sizes: multi-scale training, each training image drawn one; evaluation at the last (torchvision's
  // tuple). Here [60, 100]: evaluation as with 100 alone, training at both sizes.
  params.set("min_size",
             value_of(std::vector<ft::ParamValue>{value_of(std::int64_t{60}), value_of(std::int64_t{100})}));
  const auto multi = f.catalog.make_dataset("coco", params, {0, f.log, ""});
  CHECK(torch::equal(multi->train()->get(0).at("images"), split->get(0).at("images")));
  CHECK(multi->train()->draws_random());
  std::set<std::int64_t> heights;
  for (std::uint64_t draw = 0; draw < 16; ++draw) {
    heights.insert(multi->train()->get_for_training(0, draw).at("image_sizes")[0].item<std::int64_t>());
  }
  CHECK(heights.size() == 2);
  CHECK(heights.count(split->get(0).at("image_sizes")[0].item<std::int64_t>()) == 1);

  params.set("image_size", value_of(std::int64_t{64}));
  CHECK_THROWS_WITH(f.catalog.make_dataset("coco", params, {0, f.log, ""}), Contains("set one of them"));
}
