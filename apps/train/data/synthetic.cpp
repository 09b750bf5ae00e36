#include "data/synthetic.h"

#include <algorithm>
#include <random>
#include <vector>

#include "dgc/error.h"

namespace dgc::train {

namespace {

// An integer in [0, range) from 16 random bits by multiply-shift: no modulo bias worth the
// name for ranges this small, and no std distribution (whose output the standard leaves open).
std::uint32_t scale16(std::uint64_t bits16, std::uint32_t range) {
  return static_cast<std::uint32_t>((bits16 * range) >> 16);
}

}  // namespace

Dataset make_synthetic(std::int64_t count, std::int64_t channels, std::int64_t height,
                       std::int64_t width, std::int64_t num_classes, std::uint64_t seed) {
  DGC_CHECK(count >= 1 && channels >= 1 && height >= 1 && width >= 1,
            "make_synthetic: count, channels, height and width must be positive, got ", count, ", ",
            channels, ", ", height, ", ", width);
  DGC_CHECK(num_classes >= 1, "make_synthetic: num_classes must be positive, got ", num_classes);
  const auto limit = static_cast<std::int64_t>(kMaxSyntheticBytes);
  DGC_CHECK(channels <= limit / height && channels * height <= limit / width &&
                channels * height * width <= limit / count &&
                channels * height * width <= limit / num_classes,
            "make_synthetic: ", count, " images of ", channels, "x", height, "x", width, " in ",
            num_classes, " classes exceed the limit of ", kMaxSyntheticBytes, " bytes");

  const std::int64_t pixels = channels * height * width;
  std::mt19937_64 rng(seed);

  std::vector<std::uint8_t> prototypes(static_cast<std::size_t>(num_classes * pixels));
  for (auto& p : prototypes) p = static_cast<std::uint8_t>(rng() >> 56);

  Dataset dataset;
  dataset.images = torch::empty({count, channels, height, width}, torch::kUInt8);
  dataset.labels = torch::empty({count}, torch::kInt64);
  auto* images = dataset.images.data_ptr<std::uint8_t>();
  auto* labels = dataset.labels.data_ptr<std::int64_t>();
  constexpr std::uint32_t kNoiseRange = 2 * kSyntheticNoise + 1;
  for (std::int64_t n = 0; n < count; ++n) {
    const auto label = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(num_classes));
    labels[n] = label;
    const std::uint8_t* prototype = prototypes.data() + label * pixels;
    std::uint8_t* image = images + n * pixels;
    // One 64-bit draw gives the noise of four pixels.
    std::uint64_t bits = 0;
    for (std::int64_t i = 0; i < pixels; ++i) {
      if (i % 4 == 0) bits = rng();
      const int noise = static_cast<int>(scale16(bits & 0xffff, kNoiseRange)) - kSyntheticNoise;
      bits >>= 16;
      image[i] = static_cast<std::uint8_t>(std::clamp(prototype[i] + noise, 0, 255));
    }
  }
  dataset.num_classes = num_classes;
  dataset.name = "synthetic";
  return dataset;
}

}  // namespace dgc::train
