// A synthetic, learnable image dataset for quick runs and tests that need no files.
//
// Each class has a fixed random prototype image (every pixel uniform in 0..255); a sample is its
// class's prototype plus independent uniform noise in [-kSyntheticNoise, kSyntheticNoise] per
// pixel, clamped to 0..255. Classes are therefore separable but no sample repeats, so a short
// training run visibly improves accuracy. Labels are drawn uniformly (balanced up to chance).
// Everything comes from one std::mt19937_64 seeded with `seed` (whose output the C++ standard
// fixes) and integer arithmetic only, so a seed gives the same dataset on every platform and
// every rank. Thread-safe (no state).
#pragma once

#include <cstdint>

#include "data/dataset.h"

namespace dgc::train {

// The noise amplitude, in pixel levels: large enough that single pixels are unreliable, small
// enough that a whole image identifies its class.
inline constexpr int kSyntheticNoise = 96;

// The largest synthetic dataset accepted, in bytes of images (4 GiB).
inline constexpr std::uint64_t kMaxSyntheticBytes = std::uint64_t{1} << 32;

// `count` images uint8 [count, channels, height, width] with labels int64 in [0, num_classes);
// named "synthetic". Throws dgc::Error for a non-positive size or one above kMaxSyntheticBytes.
Dataset make_synthetic(std::int64_t count, std::int64_t channels, std::int64_t height,
                       std::int64_t width, std::int64_t num_classes, std::uint64_t seed);

}  // namespace dgc::train
