// select_classes (apps/train/data/select_classes.h) on a small hand-made dataset and on the real
// Fashion-MNIST files: which images are kept, in which order, with which labels.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "data/dataset.h"
#include "data/idx.h"
#include "data/select_classes.h"
#include "error_of.h"

namespace dgc::train {
namespace {

using ::testing::HasSubstr;

// Checks `subset` against `full` image by image: the images whose label is a multiple of
// full.num_classes / subset.num_classes, in their order, with the label divided by that.
void expect_subset_of(const Dataset& subset, const Dataset& full) {
  const std::int64_t k = full.num_classes / subset.num_classes;
  const auto* labels = full.labels.data_ptr<std::int64_t>();
  std::int64_t i = 0;
  for (std::int64_t j = 0; j < full.size(); ++j) {
    if (labels[j] % k != 0) continue;
    ASSERT_LT(i, subset.size());
    ASSERT_EQ(subset.labels[i].item<std::int64_t>(), labels[j] / k) << "image " << i;
    ASSERT_TRUE(torch::equal(subset.images[i], full.images[j])) << "image " << i << " vs " << j;
    ++i;
  }
  EXPECT_EQ(i, subset.size());
  EXPECT_TRUE(subset.images.is_contiguous());
  EXPECT_EQ(subset.images.scalar_type(), torch::kUInt8);
  EXPECT_EQ(subset.labels.scalar_type(), torch::kInt64);
}

TEST(SelectClasses, EveryKthClassRelabelled) {
  Dataset d;
  d.labels = torch::tensor({5, 0, 1, 2, 3, 4, 4, 0}, torch::kInt64);
  d.images = torch::arange(8, torch::kUInt8).reshape({8, 1, 1, 1});
  d.num_classes = 6;
  d.name = "toy";
  const Dataset s = select_classes(d, 3);  // classes 0, 2, 4
  EXPECT_TRUE(torch::equal(s.labels, torch::tensor({0, 1, 2, 2, 0}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(s.images.flatten(), torch::tensor({1, 3, 5, 6, 7}, torch::kUInt8)));
  EXPECT_EQ(s.num_classes, 3);
  EXPECT_EQ(s.name, "toy (3 of 6 classes)");
  expect_subset_of(s, d);
  // All classes: the dataset itself, sharing its tensors.
  const Dataset same = select_classes(d, 6);
  EXPECT_TRUE(same.images.is_same(d.images));
  EXPECT_TRUE(same.labels.is_same(d.labels));
  EXPECT_EQ(same.num_classes, 6);
}

TEST(SelectClasses, CountsThatDoNotDivideAreErrors) {
  Dataset d;
  d.labels = torch::zeros({1}, torch::kInt64);
  d.images = torch::zeros({1, 1, 1, 1}, torch::kUInt8);
  d.num_classes = 10;
  d.name = "fashion-mnist/test";
  for (const std::int64_t bad : {0, -1, 3, 4, 20}) {
    EXPECT_THAT(dgc::test::thrown_error_of([&] { select_classes(d, bad); }),
                HasSubstr("dataset.num_classes must divide the 10 classes of fashion-mnist/test "
                          "(every k-th class is kept), got " +
                          std::to_string(bad)));
  }
}

bool have_fashion_mnist() {
  return std::filesystem::exists(std::filesystem::path(kFashionMnistDir) /
                                 "t10k-images-idx3-ubyte.gz");
}

TEST(SelectClasses, RealFashionMnistTestSetFiveClasses) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const Dataset full = load_fashion_mnist(kFashionMnistDir, false);
  const Dataset s = select_classes(full, 5);  // T-shirt, pullover, coat, shirt, bag
  ASSERT_EQ(s.images.sizes(), (std::vector<std::int64_t>{5000, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(torch::bincount(s.labels), torch::full({5}, 1000, torch::kInt64)));
  EXPECT_EQ(s.num_classes, 5);
  EXPECT_EQ(s.name, "fashion-mnist/test (5 of 10 classes)");
  expect_subset_of(s, full);
  // The first test image is an ankle boot (9, dropped); the second a pullover (2, now 1).
  EXPECT_EQ(full.labels[1].item<std::int64_t>(), 2);
  EXPECT_TRUE(torch::equal(s.images[0], full.images[1]));
  EXPECT_EQ(s.labels[0].item<std::int64_t>(), 1);
}

TEST(SelectClasses, RealFashionMnistTrainSetTwoClasses) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const Dataset full = load_fashion_mnist(kFashionMnistDir, true);
  const Dataset s = select_classes(full, 2);  // T-shirt/top and sandal
  ASSERT_EQ(s.images.sizes(), (std::vector<std::int64_t>{12000, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(torch::bincount(s.labels), torch::full({2}, 6000, torch::kInt64)));
  expect_subset_of(s, full);
}

}  // namespace
}  // namespace dgc::train
