// dgc-train's input pipeline: the sampler's sharding and determinism, augmentation values
// against a direct per-pixel reference, and the loader's order, resume, shutdown and errors.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "dgc/error.h"
#include "error_of.h"
#include "input/augment.h"
#include "input/distributed_sampler.h"
#include "input/loader.h"
#include "input/tensor_source.h"

namespace dgc::train {
namespace {

using ::testing::HasSubstr;

using dgc::test::thrown_error_of;

at::Tensor random_images(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                         std::uint64_t seed = 1) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  // Values 1..255 so that a zero in the output can only come from the padding.
  return at::randint(1, 256, {n, c, h, w}, gen, at::kByte);
}

std::vector<std::vector<std::int64_t>> shards(std::int64_t n, int world, bool shuffle,
                                              std::uint64_t seed, std::int64_t epoch) {
  std::vector<std::vector<std::int64_t>> out;
  for (int rank = 0; rank < world; ++rank) {
    DistributedSampler sampler(n, rank, world, shuffle, seed);
    sampler.set_epoch(epoch);
    out.push_back(sampler.indices());
  }
  return out;
}

// ---- DistributedSampler ----

TEST(DistributedSampler, ShardsAreDisjointUpToPaddingCoverAllAndHaveEqualSizes) {
  for (const auto& [n, world] : std::vector<std::pair<std::int64_t, int>>{
           {10, 1}, {10, 2}, {10, 3}, {37, 4}, {3, 5}, {1, 3}, {64, 8}}) {
    SCOPED_TRACE("n=" + std::to_string(n) + " world=" + std::to_string(world));
    const auto all = shards(n, world, true, 42, 3);
    const std::int64_t per_rank = (n + world - 1) / world;
    std::map<std::int64_t, int> count;
    for (const auto& shard : all) {
      EXPECT_EQ(static_cast<std::int64_t>(shard.size()), per_rank);
      for (auto i : shard) ++count[i];
    }
    // Every index present; the only repeats are the padding, total - n extra visits.
    ASSERT_EQ(static_cast<std::int64_t>(count.size()), n);
    EXPECT_EQ(count.begin()->first, 0);
    EXPECT_EQ(count.rbegin()->first, n - 1);
    std::int64_t extra = 0;
    for (const auto& [index, times] : count) extra += times - 1;
    EXPECT_EQ(extra, per_rank * world - n);
  }
}

TEST(DistributedSampler, PaddingRepeatsThePermutationStart) {
  // Interleaving the shards back gives the padded permutation: its tail repeats its head.
  const auto all = shards(10, 4, true, 7, 0);
  std::vector<std::int64_t> padded;
  for (std::size_t i = 0; i < all[0].size(); ++i) {
    for (const auto& shard : all) padded.push_back(shard[i]);
  }
  ASSERT_EQ(padded.size(), 12u);
  EXPECT_EQ(padded[10], padded[0]);
  EXPECT_EQ(padded[11], padded[1]);
  EXPECT_EQ(std::set<std::int64_t>(padded.begin(), padded.begin() + 10).size(), 10u);
}

TEST(DistributedSampler, SameOnEveryConstruction) {
  EXPECT_EQ(shards(1000, 4, true, 42, 5), shards(1000, 4, true, 42, 5));
}

TEST(DistributedSampler, DiffersAcrossEpochsAndSeeds) {
  const auto epoch0 = shards(1000, 2, true, 42, 0);
  EXPECT_NE(epoch0, shards(1000, 2, true, 42, 1));
  EXPECT_NE(epoch0, shards(1000, 2, true, 43, 0));
  // set_epoch alone selects the permutation: the same sampler object, two epochs.
  DistributedSampler sampler(1000, 0, 2, true, 42);
  sampler.set_epoch(1);
  const auto one = sampler.indices();
  sampler.set_epoch(0);
  EXPECT_EQ(sampler.indices(), epoch0[0]);
  EXPECT_NE(one, epoch0[0]);
  EXPECT_EQ(sampler.epoch(), 0);
}

TEST(DistributedSampler, ShuffleOffIsTheIdentityOrder) {
  const auto all = shards(5, 2, false, 42, 9);
  EXPECT_EQ(all[0], (std::vector<std::int64_t>{0, 2, 4}));
  EXPECT_EQ(all[1], (std::vector<std::int64_t>{1, 3, 0}));
  std::vector<std::int64_t> identity(100);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(shards(100, 1, false, 1, 0)[0], identity);
}

TEST(DistributedSampler, SizesAreReported) {
  DistributedSampler sampler(10, 1, 4, true, 0);
  EXPECT_EQ(sampler.num_samples(), 3);
  EXPECT_EQ(sampler.total_size(), 12);
}

TEST(DistributedSampler, BadArgumentsNameTheValue) {
  EXPECT_THAT(thrown_error_of([] { DistributedSampler(10, 4, 4, true, 0); }),
              HasSubstr("rank 4 is outside [0, 4)"));
  EXPECT_THAT(thrown_error_of([] { DistributedSampler(10, -1, 4, true, 0); }),
              HasSubstr("rank -1 is outside [0, 4)"));
  EXPECT_THAT(thrown_error_of([] { DistributedSampler(10, 0, 0, true, 0); }),
              HasSubstr("world_size must be at least 1, got 0"));
  EXPECT_THAT(thrown_error_of([] { DistributedSampler(0, 0, 1, true, 0); }),
              HasSubstr("dataset is empty (size 0)"));
}

// ---- augmentation ----

// What augment_batch must produce for one sample, pixel by pixel.
float reference_pixel(const at::Tensor& image /*[C,H,W] uint8*/, const Augmentation& aug,
                      const SampleTransform& t, std::int64_t c, std::int64_t y, std::int64_t x) {
  const std::int64_t h = image.size(1), w = image.size(2);
  const std::int64_t sy = y + t.dy - aug.pad;
  const std::int64_t sx = (t.flip ? w - 1 - x : x) + t.dx - aug.pad;
  const int v =
      (sy >= 0 && sy < h && sx >= 0 && sx < w) ? image[c][sy][sx].item<std::uint8_t>() : 0;
  float f = static_cast<float>(v) / 255.0f;
  if (!aug.mean.empty()) f = (f - aug.mean[c]) / aug.std[c];
  return f;
}

void expect_matches_reference(const at::Tensor& out, const at::Tensor& images,
                              const std::vector<std::int64_t>& indices, const Augmentation& aug,
                              std::uint64_t seed, std::int64_t epoch, bool train) {
  ASSERT_EQ(out.scalar_type(), at::kFloat);
  ASSERT_EQ(out.sizes(), images.sizes());
  auto o = out.accessor<float, 4>();
  for (std::int64_t b = 0; b < images.size(0); ++b) {
    const SampleTransform t = sample_transform(aug, seed, epoch, indices[b], train);
    for (std::int64_t c = 0; c < images.size(1); ++c) {
      for (std::int64_t y = 0; y < images.size(2); ++y) {
        for (std::int64_t x = 0; x < images.size(3); ++x) {
          ASSERT_EQ(o[b][c][y][x], reference_pixel(images[b], aug, t, c, y, x))
              << "b=" << b << " c=" << c << " y=" << y << " x=" << x;
        }
      }
    }
  }
}

TEST(Augment, TestModeIsExactNormalization) {
  const at::Tensor images = random_images(3, 3, 6, 5);
  const std::vector<std::int64_t> indices{4, 9, 2};
  const Augmentation aug = cifar10_train();
  const at::Tensor out = augment_batch(images, indices, aug, 42, 0, /*train=*/false);
  // Against the op-by-op formula too.
  const at::Tensor mean = at::tensor(aug.mean).view({1, 3, 1, 1});
  const at::Tensor std = at::tensor(aug.std).view({1, 3, 1, 1});
  EXPECT_TRUE(at::equal(out, (images.to(at::kFloat) / 255.0 - mean) / std));
  expect_matches_reference(out, images, indices, aug, 42, 0, false);
  // A preset without crop or flip does the same in train mode.
  EXPECT_TRUE(at::equal(augment_batch(images, indices, cifar10_test(), 42, 0, true), out));
  EXPECT_TRUE(at::equal(augment_batch(images, indices, plain(), 42, 0, true),
                        images.to(at::kFloat) / 255.0));
}

TEST(Augment, PresetsFollowTheRecipes) {
  EXPECT_EQ(cifar10_train().pad, 4);
  EXPECT_TRUE(cifar10_train().flip);
  EXPECT_EQ(cifar10_train().mean, (std::vector<float>{0.4914f, 0.4822f, 0.4465f}));
  EXPECT_EQ(cifar10_train().std, (std::vector<float>{0.2023f, 0.1994f, 0.2010f}));
  EXPECT_EQ(fashion_mnist_train().pad, 2);
  EXPECT_TRUE(fashion_mnist_train().flip);
  EXPECT_EQ(fashion_mnist_train().mean, std::vector<float>{0.2860f});
  EXPECT_EQ(fashion_mnist_train().std, std::vector<float>{0.3530f});
  for (const Augmentation& test : {cifar10_test(), fashion_mnist_test(), plain()}) {
    EXPECT_EQ(test.pad, 0);
    EXPECT_FALSE(test.flip);
  }
  EXPECT_TRUE(plain().mean.empty());
}

TEST(Augment, TrainModeMatchesThePerPixelReference) {
  const at::Tensor images = random_images(40, 3, 8, 7);
  std::vector<std::int64_t> indices(40);
  std::iota(indices.begin(), indices.end(), 100);
  const Augmentation aug{3, true, {0.5f, 0.25f, 0.125f}, {0.5f, 2.0f, 0.3f}};
  expect_matches_reference(augment_batch(images, indices, aug, 7, 2, true), images, indices, aug, 7,
                           2, true);
}

// The first sample index in [0, 10000) whose train transform satisfies `want`.
template <typename P>
std::int64_t find_sample(const Augmentation& aug, std::uint64_t seed, std::int64_t epoch, P want) {
  for (std::int64_t i = 0; i < 10000; ++i) {
    if (want(sample_transform(aug, seed, epoch, i, true))) return i;
  }
  ADD_FAILURE() << "no sample with the wanted transform";
  return 0;
}

TEST(Augment, FlipMirrorsTheImage) {
  const Augmentation aug{0, true, {}, {}};
  const at::Tensor image = random_images(1, 2, 5, 6);
  const std::int64_t flipped = find_sample(aug, 1, 0, [](auto t) { return t.flip; });
  const std::int64_t kept = find_sample(aug, 1, 0, [](auto t) { return !t.flip; });
  const at::Tensor scaled = image.to(at::kFloat) / 255.0;
  EXPECT_TRUE(at::equal(augment_batch(image, {flipped}, aug, 1, 0, true), scaled.flip({3})));
  EXPECT_TRUE(at::equal(augment_batch(image, {kept}, aug, 1, 0, true), scaled));
}

TEST(Augment, CropShiftsTheImageWithZerosFromThePadding) {
  const Augmentation aug{2, false, {}, {}};
  const at::Tensor image = random_images(1, 1, 6, 6);
  const at::Tensor scaled = (image.to(at::kFloat) / 255.0)[0][0];
  // Window at the padded image's top-left: content moves down-right by 2, zeros above/left.
  const std::int64_t top_left =
      find_sample(aug, 5, 0, [](auto t) { return t.dy == 0 && t.dx == 0; });
  at::Tensor out = augment_batch(image, {top_left}, aug, 5, 0, true)[0][0];
  EXPECT_TRUE(at::equal(out.slice(0, 0, 2), at::zeros({2, 6})));
  EXPECT_TRUE(at::equal(out.slice(1, 0, 2), at::zeros({6, 2})));
  EXPECT_TRUE(at::equal(out.slice(0, 2).slice(1, 2), scaled.slice(0, 0, 4).slice(1, 0, 4)));
  // Window one row down and at the far right: content moves up by 1 and left by 2.
  const std::int64_t right = find_sample(aug, 5, 0, [](auto t) { return t.dy == 3 && t.dx == 4; });
  out = augment_batch(image, {right}, aug, 5, 0, true)[0][0];
  EXPECT_TRUE(at::equal(out.slice(0, 5), at::zeros({1, 6})));
  EXPECT_TRUE(at::equal(out.slice(1, 4), at::zeros({6, 2})));
  EXPECT_TRUE(at::equal(out.slice(0, 0, 5).slice(1, 0, 4), scaled.slice(0, 1).slice(1, 2)));
}

TEST(Augment, EveryOffsetAndFlipOccurs) {
  const Augmentation aug = cifar10_train();
  std::map<std::tuple<std::int64_t, std::int64_t, bool>, int> seen;
  for (std::int64_t i = 0; i < 20000; ++i) {
    const SampleTransform t = sample_transform(aug, 42, 0, i, true);
    ASSERT_GE(t.dy, 0);
    ASSERT_LE(t.dy, 8);
    ASSERT_GE(t.dx, 0);
    ASSERT_LE(t.dx, 8);
    ++seen[{t.dy, t.dx, t.flip}];
  }
  EXPECT_EQ(seen.size(), 9u * 9u * 2u);
  // 20000 / 162 ~ 123 each; a fair draw stays well inside [60, 200].
  for (const auto& [key, n] : seen) {
    EXPECT_GT(n, 60);
    EXPECT_LT(n, 200);
  }
}

TEST(Augment, SameSeedEpochAndIndexGiveTheSameOutputAnywhereInABatch) {
  const Augmentation aug = cifar10_train();
  const at::Tensor images = random_images(2, 3, 32, 32);
  const at::Tensor pair = augment_batch(images, {7, 3}, aug, 42, 4, true);
  const at::Tensor alone = augment_batch(images.slice(0, 1), {3}, aug, 42, 4, true);
  EXPECT_TRUE(at::equal(pair[1], alone[0]));
  EXPECT_TRUE(at::equal(pair, augment_batch(images, {7, 3}, aug, 42, 4, true)));
}

TEST(Augment, ADifferentEpochGivesDifferentCropsForMostSamples) {
  const Augmentation aug = cifar10_train();
  const at::Tensor images = random_images(200, 3, 32, 32);
  std::vector<std::int64_t> indices(200);
  std::iota(indices.begin(), indices.end(), 0);
  const at::Tensor epoch0 = augment_batch(images, indices, aug, 42, 0, true);
  const at::Tensor epoch1 = augment_batch(images, indices, aug, 42, 1, true);
  int differ = 0;
  for (std::int64_t i = 0; i < 200; ++i) differ += at::equal(epoch0[i], epoch1[i]) ? 0 : 1;
  // Equal only when offset and flip coincide, probability 1/162 per sample.
  EXPECT_GT(differ, 190);
}

TEST(Augment, MeanAndStdMustMatchTheChannels) {
  const at::Tensor gray = random_images(1, 1, 4, 4);
  EXPECT_THAT(thrown_error_of([&] { augment_batch(gray, {0}, cifar10_train(), 0, 0, true); }),
              HasSubstr("3 means and 3 stds but the images have 1 channels"));
  Augmentation lopsided = fashion_mnist_test();
  lopsided.std.clear();
  EXPECT_THAT(thrown_error_of([&] { augment_batch(gray, {0}, lopsided, 0, 0, false); }),
              HasSubstr("1 means and 0 stds"));
}

TEST(Augment, BadInputsAreErrors) {
  EXPECT_THAT(thrown_error_of([] {
                augment_batch(at::zeros({1, 1, 2, 2}), {0}, plain(), 0, 0, true);
              }),
              HasSubstr("must be uint8"));
  EXPECT_THAT(thrown_error_of([] {
                augment_batch(at::zeros({2, 2}, at::kByte), {0}, plain(), 0, 0, true);
              }),
              HasSubstr("[N, C, H, W]"));
  EXPECT_THAT(
      thrown_error_of([] { augment_batch(random_images(2, 1, 2, 2), {0}, plain(), 0, 0, true); }),
      HasSubstr("2 images but 1 sample indices"));
  Augmentation negative = plain();
  negative.pad = -1;
  EXPECT_THAT(
      thrown_error_of([&] { augment_batch(random_images(1, 1, 2, 2), {0}, negative, 0, 0, true); }),
      HasSubstr("pad must be >= 0, got -1"));
}

// ---- BatchLoader ----

struct Data {
  at::Tensor images = random_images(37, 3, 8, 8, 11);
  at::Tensor labels = at::arange(37, at::kLong) * 3 % 10;
};

const Augmentation kLoaderAugmentation = {2, true, {0.4f, 0.5f, 0.6f}, {0.2f, 0.3f, 0.4f}};

std::shared_ptr<const SampleSource> source(const at::Tensor& images, const at::Tensor& labels,
                                           const Augmentation& augmentation = kLoaderAugmentation,
                                           bool train = true) {
  return std::make_shared<TensorSource>(images, labels, augmentation, 42, train);
}

std::shared_ptr<const SampleSource> source(const Data& d, bool train = true) {
  return source(d.images, d.labels, kLoaderAugmentation, train);
}

LoaderOptions train_options() {
  LoaderOptions options;
  options.batch_size = 5;
  options.epoch = 3;
  return options;
}

std::vector<Batch> drain(BatchLoader& loader) {
  std::vector<Batch> out;
  Batch batch;
  while (loader.next(batch)) out.push_back(batch);
  return out;
}

TEST(BatchLoader, BatchesEqualAugmentBatchInOrderWithAPartialLastOne) {
  const Data d;
  DistributedSampler sampler(37, 1, 2, true, 42);
  sampler.set_epoch(3);
  const std::vector<std::int64_t> indices = sampler.indices();  // 19 samples
  for (const auto& [prefetch, workers] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {2, 1}, {8, 1}, {1, 3}, {8, 3}}) {
    SCOPED_TRACE("prefetch=" + std::to_string(prefetch) + " workers=" + std::to_string(workers));
    LoaderOptions options = train_options();
    options.prefetch = prefetch;
    options.workers = workers;
    BatchLoader loader(source(d), indices, options);
    EXPECT_EQ(loader.num_batches(), 4);
    const std::vector<Batch> batches = drain(loader);
    ASSERT_EQ(batches.size(), 4u);
    for (std::size_t k = 0; k < batches.size(); ++k) {
      const std::vector<std::int64_t> slice(indices.begin() + 5 * k,
                                            indices.begin() + std::min<std::size_t>(5 * k + 5, 19));
      const at::Tensor rows = at::tensor(slice);
      EXPECT_EQ(batches[k].index, static_cast<std::int64_t>(k));
      EXPECT_TRUE(at::equal(batches[k].data, augment_batch(d.images.index_select(0, rows), slice,
                                                           kLoaderAugmentation, 42, 3, true)));
      EXPECT_TRUE(at::equal(batches[k].target, d.labels.index_select(0, rows)));
    }
    EXPECT_EQ(batches.back().data.size(0), 4);
    EXPECT_EQ(batches.back().target.size(0), 4);
    // The end stays the end.
    Batch after;
    EXPECT_FALSE(loader.next(after));
    EXPECT_FALSE(after.data.defined());
  }
}

TEST(BatchLoader, TestModeIsNormalizationOnly) {
  const Data d;
  LoaderOptions options = train_options();
  options.batch_size = 37;
  std::vector<std::int64_t> all(37);
  std::iota(all.begin(), all.end(), 0);
  BatchLoader loader(source(d, /*train=*/false), all, options);
  Batch batch;
  ASSERT_TRUE(loader.next(batch));
  EXPECT_TRUE(at::equal(batch.data, augment_batch(d.images, all, kLoaderAugmentation, 0, 0,
                                                  /*train=*/false)));
}

TEST(BatchLoader, StartingAtBatchKGivesTheTailOfAFullPass) {
  const Data d;
  std::vector<std::int64_t> indices(37);
  std::iota(indices.rbegin(), indices.rend(), 0);
  BatchLoader full_loader(source(d), indices, train_options());
  const std::vector<Batch> full = drain(full_loader);
  ASSERT_EQ(full.size(), 8u);
  for (std::int64_t k : {0, 3, 7, 8}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    LoaderOptions options = train_options();
    options.start_batch = k;
    options.workers = 2;
    BatchLoader loader(source(d), indices, options);
    EXPECT_EQ(loader.num_batches(), 8);
    const std::vector<Batch> tail = drain(loader);
    ASSERT_EQ(static_cast<std::int64_t>(tail.size()), 8 - k);
    for (std::size_t i = 0; i < tail.size(); ++i) {
      EXPECT_EQ(tail[i].index, full[k + i].index);
      EXPECT_TRUE(at::equal(tail[i].data, full[k + i].data));
      EXPECT_TRUE(at::equal(tail[i].target, full[k + i].target));
    }
  }
}

TEST(BatchLoader, DestructionMidEpochReturns) {
  // Many batches and a full prefetch queue: the worker is blocked waiting for room when the
  // loader goes away. A hang here fails at the test's timeout.
  const at::Tensor images = random_images(4000, 3, 32, 32);
  const at::Tensor labels = at::zeros({4000}, at::kLong);
  std::vector<std::int64_t> indices(4000);
  std::iota(indices.begin(), indices.end(), 0);
  const auto cifar = source(images, labels, cifar10_train());
  LoaderOptions options = train_options();
  options.batch_size = 2;
  options.workers = 2;
  for (int repeat = 0; repeat < 20; ++repeat) {
    BatchLoader loader(cifar, indices, options);
    Batch batch;
    ASSERT_TRUE(loader.next(batch));
    EXPECT_EQ(batch.index, 0);
  }
  // Also before any next() and after the end.
  { BatchLoader untouched(cifar, indices, options); }
  {
    BatchLoader finished(cifar, {1, 2, 3}, options);
    EXPECT_EQ(drain(finished).size(), 2u);
  }
}

// A source whose sample 4 cannot be prepared, like an unreadable file.
class FailingSource : public SampleSource {
 public:
  std::int64_t size() const override { return 10; }
  std::int64_t label(std::int64_t) const override { return 0; }
  std::vector<std::int64_t> sample_shape() const override { return {1, 2, 2}; }
  void prepare(std::int64_t index, std::int64_t, float* out) const override {
    DGC_CHECK(index != 4, "sample 4 is broken");
    std::fill(out, out + 4, static_cast<float>(index));
  }
};

TEST(BatchLoader, AWorkerErrorIsRethrownByNextInOrder) {
  for (const std::int64_t workers : {1, 3}) {
    SCOPED_TRACE("workers=" + std::to_string(workers));
    LoaderOptions options;
    options.batch_size = 2;
    options.workers = workers;
    BatchLoader loader(std::make_shared<FailingSource>(), {0, 1, 2, 3, 4, 5, 6, 7}, options);
    Batch batch;
    // The batches before the broken one arrive intact.
    ASSERT_TRUE(loader.next(batch));
    EXPECT_EQ(batch.data[1][0][0][0].item<float>(), 1.0f);
    ASSERT_TRUE(loader.next(batch));
    EXPECT_EQ(batch.index, 1);
    EXPECT_THAT(thrown_error_of([&] { loader.next(batch); }), HasSubstr("sample 4 is broken"));
    // And again: the epoch cannot silently continue past a failed batch.
    EXPECT_THAT(thrown_error_of([&] { loader.next(batch); }), HasSubstr("sample 4 is broken"));
  }
}

TEST(TensorSource, NormalizationThatDoesNotFitTheChannelsIsAnError) {
  const at::Tensor gray = random_images(10, 1, 4, 4);
  const at::Tensor labels = at::zeros({10}, at::kLong);
  EXPECT_THAT(thrown_error_of([&] { TensorSource(gray, labels, cifar10_train(), 0, true); }),
              HasSubstr("3 means and 3 stds but the images have 1 channels"));
}

TEST(BatchLoader, EmptyIndexListHasNoBatches) {
  const Data d;
  BatchLoader loader(source(d), {}, train_options());
  EXPECT_EQ(loader.num_batches(), 0);
  Batch batch;
  EXPECT_FALSE(loader.next(batch));
}

TEST(BatchLoader, BadArgumentsAreErrorsFromTheConstructor) {
  const Data d;
  EXPECT_THAT(thrown_error_of([&] {
                BatchLoader(source(d), {0, 37}, train_options());
              }),
              HasSubstr("sample index 37 is outside [0, 37)"));
  EXPECT_THAT(thrown_error_of([&] { BatchLoader(nullptr, {0}, train_options()); }),
              HasSubstr("no sample source"));
  EXPECT_THAT(thrown_error_of([&] { source(d.images, d.labels.slice(0, 1)); }),
              HasSubstr("37 images but 36 labels"));
  EXPECT_THAT(thrown_error_of([&] { source(d.images, d.labels.to(at::kInt)); }),
              HasSubstr("labels must be int64"));
  EXPECT_THAT(thrown_error_of([&] { source(d.images.to(at::kFloat), d.labels); }),
              HasSubstr("images must be uint8"));
  LoaderOptions options = train_options();
  options.batch_size = 0;
  EXPECT_THAT(thrown_error_of([&] { BatchLoader(source(d), {0}, options); }),
              HasSubstr("batch_size must be at least 1, got 0"));
  options = train_options();
  options.prefetch = 0;
  EXPECT_THAT(thrown_error_of([&] { BatchLoader(source(d), {0}, options); }),
              HasSubstr("prefetch must be at least 1, got 0"));
  options = train_options();
  options.workers = 0;
  EXPECT_THAT(thrown_error_of([&] { BatchLoader(source(d), {0}, options); }),
              HasSubstr("workers must be at least 1, got 0"));
  options = train_options();
  options.start_batch = 3;
  EXPECT_THAT(thrown_error_of([&] {
                BatchLoader(source(d), {0, 1, 2, 3, 4, 5}, options);
              }),
              HasSubstr("start_batch 3 is outside [0, 2]"));
}

TEST(BatchLoader, LeavesTheIntraOpThreadCountAlone) {
  const int before = at::get_num_threads();
  const Data d;
  std::vector<std::int64_t> all(37);
  std::iota(all.begin(), all.end(), 0);
  LoaderOptions options = train_options();
  options.workers = 2;
  BatchLoader loader(source(d), all, options);
  drain(loader);
  EXPECT_EQ(at::get_num_threads(), before);
}

}  // namespace
}  // namespace dgc::train
