// The dataset readers of dgc-train on small files written here (plain and gzip, valid and
// damaged in every way the readers report), on the real Fashion-MNIST files of the Debian
// package, and the synthetic dataset.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/cifar10.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/synthetic.h"
#include "dgc/error.h"
#include "error_of.h"
#include "scratch_dir.h"

namespace {

namespace fs = std::filesystem;
using dgc::train::Dataset;
using testing::AllOf;
using testing::HasSubstr;

using Bytes = std::vector<std::uint8_t>;

using dgc::test::error_of;

void put_u32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(value >> shift));
}

Bytes idx_images(std::uint32_t n, std::uint32_t h, std::uint32_t w, const Bytes& pixels) {
  Bytes out;
  put_u32(out, 0x00000803);
  put_u32(out, n);
  put_u32(out, h);
  put_u32(out, w);
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

Bytes idx_labels(const Bytes& labels) {
  Bytes out;
  put_u32(out, 0x00000801);
  put_u32(out, static_cast<std::uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

class DataTest : public testing::Test {
 protected:

  // Writes `bytes` to dir_/name, gzip-compressed when `gzip`; returns the path.
  std::string write(const std::string& name, const Bytes& bytes, bool gzip = false) {
    const std::string path = (dir_ / name).string();
    if (gzip) {
      gzFile file = gzopen(path.c_str(), "wb");
      EXPECT_NE(file, nullptr);
      EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
                static_cast<int>(bytes.size()));
      EXPECT_EQ(gzclose(file), Z_OK);
    } else {
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
    }
    return path;
  }

  Bytes read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
  }

  dgc::test::ScratchDir scratch_{"dgc-train-data"};
  const fs::path dir_ = scratch_.path();
};

// Three 2x4 images with distinct pixels, and their labels.
const Bytes kPixels = [] {
  Bytes p(3 * 2 * 4);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i * 11 + 3);
  return p;
}();
const Bytes kLabels = {0, 3, 9};

void expect_small_idx(const Dataset& d) {
  ASSERT_EQ(d.images.sizes(), (std::vector<std::int64_t>{3, 1, 2, 4}));
  EXPECT_EQ(d.images.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(d.images.is_contiguous());
  const auto* pixels = d.images.data_ptr<std::uint8_t>();
  EXPECT_EQ(Bytes(pixels, pixels + kPixels.size()), kPixels);
  ASSERT_EQ(d.labels.sizes(), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(d.labels.scalar_type(), torch::kInt64);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(d.labels[i].item<std::int64_t>(), kLabels[i]);
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(d.size(), 3);
}

TEST_F(DataTest, IdxReadsPlainFilesExactly) {
  const auto images = write("images", idx_images(3, 2, 4, kPixels));
  const auto labels = write("labels", idx_labels(kLabels));
  expect_small_idx(dgc::train::load_idx(images, labels, 10));
}

TEST_F(DataTest, IdxReadsGzipFilesExactly) {
  const auto images = write("images.gz", idx_images(3, 2, 4, kPixels), true);
  const auto labels = write("labels.gz", idx_labels(kLabels), true);
  expect_small_idx(dgc::train::load_idx(images, labels, 10));
  // Mixed: one compressed, one not.
  expect_small_idx(dgc::train::load_idx(images, write("plain", idx_labels(kLabels)), 10));
}

TEST_F(DataTest, IdxMissingFileIsNamed) {
  const auto labels = write("labels", idx_labels(kLabels));
  const std::string missing = (dir_ / "nope-images.gz").string();
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(missing, labels, 10); }),
              HasSubstr(missing + ": no such file"));
  const auto images = write("images", idx_images(3, 2, 4, kPixels));
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(images, dir_.string(), 10); }),
              HasSubstr(dir_.string() + ": is a directory"));
}

TEST_F(DataTest, IdxWrongMagicSaysWhichWasExpected) {
  const auto images = write("images", idx_images(3, 2, 4, kPixels));
  const auto labels = write("labels", idx_labels(kLabels));
  // The two files swapped.
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(labels, images, 10); }),
              HasSubstr(labels + ": not an IDX image file: magic number 0x00000801 (that of an IDX "
                                 "label file), expected 0x00000803"));
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(images, images, 10); }),
              HasSubstr(images + ": not an IDX label file: magic number 0x00000803 (that of an IDX "
                                 "image file), expected 0x00000801"));
  // A foreign file, here a PNG signature.
  const auto png =
      write("picture.png", {0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_THAT(
      error_of([&] { dgc::train::load_idx(png, labels, 10); }),
      HasSubstr(png + ": not an IDX image file: magic number 0x89504e47, expected 0x00000803"));
}

TEST_F(DataTest, IdxTruncatedHeader) {
  Bytes header = idx_images(3, 2, 4, {});
  header.resize(10);
  const auto images = write("images", header);
  const auto labels = write("labels", idx_labels(kLabels));
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(images, labels, 10); }),
              HasSubstr(images + ": truncated IDX header: expected 16 bytes, got 10"));
  const auto empty = write("empty", {});
  EXPECT_THAT(
      error_of([&] { dgc::train::load_idx(empty, labels, 10); }),
      HasSubstr(empty + ": too short for an IDX image file: 0 bytes, expected a header of 16"));
}

TEST_F(DataTest, IdxTruncatedDataSaysExpectedAndFound) {
  for (bool gzip : {false, true}) {
    SCOPED_TRACE(gzip ? "gzip" : "plain");
    const Bytes short_pixels(kPixels.begin(), kPixels.end() - 4);
    const auto images =
        write(gzip ? "images.gz" : "images", idx_images(3, 2, 4, short_pixels), gzip);
    const auto labels = write(gzip ? "labels.gz" : "labels", idx_labels(kLabels), gzip);
    EXPECT_THAT(
        error_of([&] { dgc::train::load_idx(images, labels, 10); }),
        HasSubstr(images + ": truncated data: the header declares 3 images of 2x4 (24 bytes) "
                           "but only 20 bytes follow (2 whole images)"));

    Bytes short_labels = idx_labels(kLabels);
    short_labels.pop_back();
    const auto full_images = write("full-images", idx_images(3, 2, 4, kPixels));
    const auto cut_labels = write(gzip ? "cut-labels.gz" : "cut-labels", short_labels, gzip);
    EXPECT_THAT(
        error_of([&] { dgc::train::load_idx(full_images, cut_labels, 10); }),
        HasSubstr(cut_labels + ": truncated data: the header declares 3 labels (3 bytes) but "
                               "only 2 bytes follow (2 whole labels)"));
  }
}

TEST_F(DataTest, IdxTruncatedGzipStream) {
  // Enough varied data that the compressed stream is long, then cut in the middle.
  Bytes pixels(100 * 28 * 28);
  for (std::size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<std::uint8_t>(i * i * 7 >> 3);
  const auto whole = write("whole.gz", idx_images(100, 28, 28, pixels), true);
  Bytes compressed = read(whole);
  ASSERT_GT(compressed.size(), 100u);
  compressed.resize(compressed.size() / 2);
  const auto images = write("images.gz", compressed);
  const auto labels = write("labels", idx_labels(kLabels));
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(images, labels, 10); }),
              HasSubstr(images + ": the gzip stream is truncated"));
}

TEST_F(DataTest, IdxTrailingDataIsAnError) {
  for (bool gzip : {false, true}) {
    SCOPED_TRACE(gzip ? "gzip" : "plain");
    Bytes long_images = idx_images(3, 2, 4, kPixels);
    long_images.insert(long_images.end(), 5, 0);
    const auto images = write(gzip ? "images.gz" : "images", long_images, gzip);
    const auto labels = write("labels", idx_labels(kLabels));
    EXPECT_THAT(
        error_of([&] { dgc::train::load_idx(images, labels, 10); }),
        HasSubstr(images + ": 5 bytes of trailing data after the 3 images of 2x4 its header "
                           "declares (24 bytes)"));
    Bytes long_labels = idx_labels(kLabels);
    long_labels.push_back(1);
    const auto good_images = write("good-images", idx_images(3, 2, 4, kPixels));
    const auto bad_labels = write(gzip ? "long-labels.gz" : "long-labels", long_labels, gzip);
    EXPECT_THAT(error_of([&] { dgc::train::load_idx(good_images, bad_labels, 10); }),
                HasSubstr(bad_labels + ": 1 bytes of trailing data after the 3 labels"));
  }
}

TEST_F(DataTest, IdxCountMismatchNamesBothFiles) {
  const auto images = write("images", idx_images(3, 2, 4, kPixels));
  const auto labels = write("labels", idx_labels({1, 2}));
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(images, labels, 10); }),
              HasSubstr("image and label counts differ: " + images + " has 3 images but " + labels +
                        " has 2 labels"));
}

TEST_F(DataTest, IdxLabelOutOfRangeGivesPosition) {
  const auto images = write("images", idx_images(3, 2, 4, kPixels));
  const auto labels = write("labels", idx_labels({0, 9, 10}));
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(images, labels, 10); }),
              HasSubstr(labels + ": label 10 at position 2 is not below num_classes 10"));
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(images, labels, 0); }),
              HasSubstr("num_classes must be in [1, 256]"));
}

TEST_F(DataTest, IdxZeroDimensionIsAnError) {
  const auto images = write("images", idx_images(3, 0, 4, {}));
  const auto labels = write("labels", idx_labels(kLabels));
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(images, labels, 10); }),
              HasSubstr(images + ": the IDX header declares dimension 1 as 0"));
}

std::int64_t max_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST_F(DataTest, IdxHugeDimensionsFailWithoutAllocating) {
  const auto labels = write("labels", idx_labels(kLabels));
  // Above the limit: rejected from the header alone (the product would overflow 64 bits).
  const auto absurd = write("absurd", idx_images(0xffffffffu, 0xffffffffu, 0xffffffffu, kPixels));
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(absurd, labels, 10); }),
              HasSubstr(absurd + ": the IDX header declares dimensions whose product exceeds the "
                                 "limit of 4294967296 bytes"));
  // Below the limit but far beyond the file (3.9 GB declared, 24 bytes there): the reader must
  // find out from the data, not by allocating (and zeroing) what the header claims.
  const std::int64_t rss_before = max_rss_kib();
  for (bool gzip : {false, true}) {
    SCOPED_TRACE(gzip ? "gzip" : "plain");
    const auto big = write(gzip ? "big.gz" : "big", idx_images(5000000, 28, 28, kPixels), gzip);
    EXPECT_THAT(error_of([&] { dgc::train::load_idx(big, labels, 10); }),
                HasSubstr(big + ": truncated data: the header declares 5000000 images of 28x28 "
                                "(3920000000 bytes) but only 24 bytes follow (0 whole images)"));
  }
  EXPECT_LT(max_rss_kib() - rss_before, 256 * 1024)
      << "the reader allocated what the header claimed";
  const auto huge_labels = write("huge-labels", [] {
    Bytes b;
    put_u32(b, 0x00000801);
    put_u32(b, 0xffffffffu);
    return b;
  }());
  const auto images = write("images", idx_images(3, 2, 4, kPixels));
  EXPECT_THAT(error_of([&] { dgc::train::load_idx(images, huge_labels, 10); }),
              HasSubstr("has 3 images but " + huge_labels + " has 4294967295 labels"));
}

// CIFAR-10 records whose every byte says where it belongs: label r % 10, and pixel (c, y, x) of
// record r equal to (r * 31 + c * 100 + y * 3 + x) % 256.
Bytes cifar_records(int first, int count) {
  Bytes out;
  for (int r = first; r < first + count; ++r) {
    out.push_back(static_cast<std::uint8_t>(r % 10));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x)
          out.push_back(static_cast<std::uint8_t>((r * 31 + c * 100 + y * 3 + x) % 256));
  }
  return out;
}

void expect_cifar_records(const Dataset& d, int count) {
  ASSERT_EQ(d.images.sizes(), (std::vector<std::int64_t>{count, 3, 32, 32}));
  EXPECT_EQ(d.images.scalar_type(), torch::kUInt8);
  ASSERT_EQ(d.labels.sizes(), (std::vector<std::int64_t>{count}));
  EXPECT_EQ(d.num_classes, 10);
  const auto images = d.images.accessor<std::uint8_t, 4>();
  const auto labels = d.labels.accessor<std::int64_t, 1>();
  int wrong = 0;
  for (int r = 0; r < count; ++r) {
    EXPECT_EQ(labels[r], r % 10);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x)
          wrong += images[r][c][y][x] != (r * 31 + c * 100 + y * 3 + x) % 256;
  }
  EXPECT_EQ(wrong, 0);
  // Spot checks that spell out the layout: red plane first, row-major.
  EXPECT_EQ(images[0][0][0][1], 1);    // record 0, red, row 0, column 1
  EXPECT_EQ(images[0][1][0][0], 100);  // record 0, green, first pixel
  EXPECT_EQ(images[0][2][1][0], 203);  // record 0, blue, row 1, column 0
}

TEST_F(DataTest, CifarTestBatchReadsRecordsInPlace) {
  write("test_batch.bin", cifar_records(0, 4));
  const Dataset d = dgc::train::load_cifar10(dir_.string(), false);
  expect_cifar_records(d, 4);
  EXPECT_EQ(d.name, "cifar10/test");
}

TEST_F(DataTest, CifarTrainConcatenatesFiveBatchesInOrder) {
  // The parent folder is accepted too, as the archive unpacks.
  fs::create_directories(dir_ / "cifar-10-batches-bin");
  int first = 0;
  for (int i = 1; i <= 5; ++i) {
    write("cifar-10-batches-bin/data_batch_" + std::to_string(i) + ".bin", cifar_records(first, i));
    first += i;
  }
  const Dataset d = dgc::train::load_cifar10(dir_.string(), true);
  expect_cifar_records(d, 15);
  EXPECT_EQ(d.name, "cifar10/train");
}

TEST_F(DataTest, CifarMissingFileIsNamed) {
  for (int i = 1; i <= 4; ++i)
    write("data_batch_" + std::to_string(i) + ".bin", cifar_records(0, 1));
  EXPECT_THAT(error_of([&] { dgc::train::load_cifar10(dir_.string(), true); }),
              HasSubstr((dir_ / "data_batch_5.bin").string() + ": no such file"));
  EXPECT_THAT(error_of([&] { dgc::train::load_cifar10(dir_.string(), false); }),
              HasSubstr((dir_ / "test_batch.bin").string() + ": no such file"));
}

TEST_F(DataTest, CifarSizeNotAMultipleOfTheRecord) {
  Bytes bytes = cifar_records(0, 2);
  bytes.resize(bytes.size() + 100);
  const auto path = write("test_batch.bin", bytes);
  EXPECT_THAT(error_of([&] { dgc::train::load_cifar10(dir_.string(), false); }),
              HasSubstr(path + ": size 6246 bytes is not a multiple of the record size 3073"));
  write("test_batch.bin", {});
  EXPECT_THAT(error_of([&] { dgc::train::load_cifar10(dir_.string(), false); }),
              HasSubstr(path + ": empty"));
}

TEST_F(DataTest, CifarLabelAboveNineNamesFileAndRecord) {
  Bytes bytes = cifar_records(0, 3);
  bytes[1 * dgc::train::kCifar10RecordBytes] = 10;
  const auto path = write("test_batch.bin", bytes);
  EXPECT_THAT(error_of([&] { dgc::train::load_cifar10(dir_.string(), false); }),
              HasSubstr(path + ": record 1 has label 10, expected 0..9"));
}

TEST_F(DataTest, FashionMnistAcceptsUnpackedFiles) {
  write("t10k-images-idx3-ubyte", idx_images(3, 2, 4, kPixels));
  write("t10k-labels-idx1-ubyte.gz", idx_labels(kLabels), true);
  const Dataset d = dgc::train::load_fashion_mnist(dir_.string(), false);
  expect_small_idx(d);
  EXPECT_EQ(d.name, "fashion-mnist/test");
  EXPECT_THAT(error_of([&] { dgc::train::load_fashion_mnist(dir_.string(), true); }),
              HasSubstr((dir_ / "train-images-idx3-ubyte.gz").string() + ": no such file"));
}

bool have_fashion_mnist() {
  return fs::exists(fs::path(dgc::train::kFashionMnistDir) / "t10k-images-idx3-ubyte.gz");
}

TEST(FashionMnist, RealTestSet) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const Dataset d = dgc::train::load_fashion_mnist(dgc::train::kFashionMnistDir, false);
  ASSERT_EQ(d.images.sizes(), (std::vector<std::int64_t>{10000, 1, 28, 28}));
  ASSERT_EQ(d.labels.sizes(), (std::vector<std::int64_t>{10000}));
  EXPECT_EQ(d.labels[0].item<std::int64_t>(), 9);  // the first test image is an ankle boot
  EXPECT_GE(d.labels.min().item<std::int64_t>(), 0);
  EXPECT_LT(d.labels.max().item<std::int64_t>(), 10);
  // Balanced: 1,000 images per class.
  EXPECT_TRUE(torch::equal(torch::bincount(d.labels), torch::full({10}, 1000, torch::kInt64)));
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(d.name, "fashion-mnist/test");
}

TEST(FashionMnist, RealTrainSet) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const Dataset d = dgc::train::load_fashion_mnist(dgc::train::kFashionMnistDir, true);
  ASSERT_EQ(d.images.sizes(), (std::vector<std::int64_t>{60000, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(torch::bincount(d.labels), torch::full({10}, 6000, torch::kInt64)));
  EXPECT_EQ(d.name, "fashion-mnist/train");
}

TEST(Synthetic, DeterministicPerSeedAndDifferentAcrossSeeds) {
  const Dataset a = dgc::train::make_synthetic(200, 3, 8, 6, 10, 42);
  const Dataset b = dgc::train::make_synthetic(200, 3, 8, 6, 10, 42);
  const Dataset c = dgc::train::make_synthetic(200, 3, 8, 6, 10, 43);
  ASSERT_EQ(a.images.sizes(), (std::vector<std::int64_t>{200, 3, 8, 6}));
  EXPECT_EQ(a.images.scalar_type(), torch::kUInt8);
  EXPECT_EQ(a.labels.scalar_type(), torch::kInt64);
  EXPECT_EQ(a.num_classes, 10);
  EXPECT_EQ(a.name, "synthetic");
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_FALSE(torch::equal(a.images, c.images));
  EXPECT_FALSE(torch::equal(a.labels, c.labels));
  EXPECT_GE(a.labels.min().item<std::int64_t>(), 0);
  EXPECT_LT(a.labels.max().item<std::int64_t>(), 10);
}

TEST(Synthetic, BalancedIshAndLearnable) {
  const Dataset d = dgc::train::make_synthetic(2000, 1, 28, 28, 10, 7);
  const auto counts = torch::bincount(d.labels, {}, 10);
  EXPECT_GT(counts.min().item<std::int64_t>(), 140);  // 200 expected per class
  EXPECT_LT(counts.max().item<std::int64_t>(), 260);
  // A nearest-class-mean classifier fitted on the first half classifies the second half well:
  // the classes carry signal a model can learn, and no sample repeats another.
  const auto x = d.images.reshape({2000, -1}).to(torch::kFloat);
  const auto fit = x.slice(0, 0, 1000), held = x.slice(0, 1000);
  const auto fit_labels = d.labels.slice(0, 0, 1000), held_labels = d.labels.slice(0, 1000);
  auto means = torch::zeros({10, 784});
  means.index_add_(0, fit_labels, fit);
  means /= torch::bincount(fit_labels, {}, 10).to(torch::kFloat).unsqueeze(1);
  const auto predicted = torch::cdist(held, means).argmin(1);
  const double accuracy = predicted.eq(held_labels).to(torch::kFloat).mean().item<double>();
  EXPECT_GT(accuracy, 0.9);
  EXPECT_FALSE(torch::equal(d.images[0], d.images[1]));
}

TEST(Synthetic, BadArgumentsAreErrors) {
  EXPECT_THAT(
      error_of([] { dgc::train::make_synthetic(0, 1, 28, 28, 10, 1); }),
      HasSubstr("make_synthetic: count, channels, height and width must be positive, got 0, "
                "1, 28, 28"));
  EXPECT_THAT(error_of([] { dgc::train::make_synthetic(10, 1, 28, 28, 0, 1); }),
              HasSubstr("num_classes must be positive, got 0"));
  EXPECT_THAT(error_of([] { dgc::train::make_synthetic(1 << 30, 3, 1 << 20, 1 << 20, 10, 1); }),
              HasSubstr("exceed the limit of 4294967296 bytes"));
}

}  // namespace
