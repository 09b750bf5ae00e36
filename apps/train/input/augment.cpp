#include "input/augment.h"

#include <ATen/ops/empty.h>

#include <array>

#include "dgc/error.h"
#include "input/splitmix64.h"

namespace dgc::train {

Augmentation cifar10_train() {
  return {4, true, {0.4914f, 0.4822f, 0.4465f}, {0.2023f, 0.1994f, 0.2010f}};
}

Augmentation cifar10_test() {
  Augmentation a = cifar10_train();
  a.pad = 0;
  a.flip = false;
  return a;
}

// The seed has no Fashion-MNIST: this mirrors its CIFAR recipe (padding an eighth of the side,
// flip) with the dataset's own mean and std.
Augmentation fashion_mnist_train() { return {2, true, {0.2860f}, {0.3530f}}; }

Augmentation fashion_mnist_test() {
  Augmentation a = fashion_mnist_train();
  a.pad = 0;
  a.flip = false;
  return a;
}

Augmentation plain() { return {}; }

namespace {

// A value in [0, span) from 21 random bits, by multiply-shift (no division; the bias, span/2^21,
// is negligible for paddings of a few pixels).
std::int64_t below(std::uint64_t bits21, std::int64_t span) {
  return static_cast<std::int64_t>((bits21 * static_cast<std::uint64_t>(span)) >> 21);
}

void check_images(const at::Tensor& images) {
  DGC_CHECK(images.defined(), "augment: the image tensor is undefined");
  DGC_CHECK(images.scalar_type() == at::kByte, "augment: images must be uint8, got ",
            images.scalar_type());
  DGC_CHECK(images.dim() == 4, "augment: images must be [N, C, H, W], got ", images.sizes());
}

}  // namespace

std::uint64_t sample_random_key(std::uint64_t seed, std::int64_t epoch, std::int64_t sample_index) {
  // Chained rather than xor-ed together so that (epoch, index) pairs cannot cancel each other.
  const std::uint64_t per_epoch = splitmix64(splitmix64(seed) ^ static_cast<std::uint64_t>(epoch));
  return splitmix64(per_epoch ^ static_cast<std::uint64_t>(sample_index));
}

SampleTransform sample_transform(const Augmentation& augmentation, std::uint64_t seed,
                                 std::int64_t epoch, std::int64_t sample_index, bool train) {
  SampleTransform t{augmentation.pad, augmentation.pad, false};
  if (!train) return t;
  const std::uint64_t h = sample_random_key(seed, epoch, sample_index);
  // Disjoint bit fields of one 64-bit hash: dy, dx and the flip are independent.
  const std::int64_t span = 2 * augmentation.pad + 1;
  constexpr std::uint64_t kMask21 = (std::uint64_t{1} << 21) - 1;
  t.dy = below(h & kMask21, span);
  t.dx = below((h >> 21) & kMask21, span);
  t.flip = augmentation.flip && (h >> 63) != 0;
  return t;
}

namespace detail {

std::vector<std::array<float, 256>> pixel_tables(const Augmentation& augmentation,
                                                 std::int64_t channels) {
  const bool normalize = !augmentation.mean.empty() || !augmentation.std.empty();
  if (normalize) {
    DGC_CHECK(static_cast<std::int64_t>(augmentation.mean.size()) == channels &&
                  static_cast<std::int64_t>(augmentation.std.size()) == channels,
              "augment: normalization has ", augmentation.mean.size(), " means and ",
              augmentation.std.size(), " stds but the images have ", channels, " channels");
    for (std::size_t c = 0; c < augmentation.std.size(); ++c) {
      DGC_CHECK(augmentation.std[c] > 0.0f, "augment: std[", c, "] must be positive, got ",
                augmentation.std[c]);
    }
  }
  std::vector<std::array<float, 256>> table(static_cast<std::size_t>(channels));
  for (std::int64_t c = 0; c < channels; ++c) {
    for (int v = 0; v < 256; ++v) {
      float x = static_cast<float>(v) / 255.0f;
      if (normalize) x = (x - augmentation.mean[c]) / augmentation.std[c];
      table[c][v] = x;
    }
  }
  return table;
}

void augment_sample(const std::uint8_t* image, std::int64_t channels, std::int64_t height,
                    std::int64_t width, std::int64_t pad, const SampleTransform& t,
                    const std::vector<std::array<float, 256>>& tables, float* out) {
  // Output pixel (y, x) reads source pixel (y + oy, sx) with sx = x + ox, or the mirror image
  // W-1-x + ox when flipped; outside the source lies the zero padding.
  const std::int64_t oy = t.dy - pad;
  const std::int64_t ox = t.dx - pad;
  const std::int64_t plane = height * width;
  for (std::int64_t c = 0; c < channels; ++c) {
    const std::uint8_t* in = image + c * plane;
    float* o = out + c * plane;
    const float* lut = tables[c].data();
    for (std::int64_t y = 0; y < height; ++y) {
      const std::int64_t sy = y + oy;
      float* line = o + y * width;
      if (sy < 0 || sy >= height) {
        for (std::int64_t x = 0; x < width; ++x) line[x] = lut[0];
        continue;
      }
      const std::uint8_t* in_line = in + sy * width;
      for (std::int64_t x = 0; x < width; ++x) {
        const std::int64_t sx = (t.flip ? width - 1 - x : x) + ox;
        line[x] = (sx >= 0 && sx < width) ? lut[in_line[sx]] : lut[0];
      }
    }
  }
}

}  // namespace detail

at::Tensor augment_batch(const at::Tensor& images_uint8,
                         const std::vector<std::int64_t>& sample_indices,
                         const Augmentation& augmentation, std::uint64_t seed, std::int64_t epoch,
                         bool train) {
  check_images(images_uint8);
  DGC_CHECK(images_uint8.size(0) == static_cast<std::int64_t>(sample_indices.size()),
            "augment_batch: ", images_uint8.size(0), " images but ", sample_indices.size(),
            " sample indices");
  DGC_CHECK(augmentation.pad >= 0, "augment: pad must be >= 0, got ", augmentation.pad);
  const std::int64_t channels = images_uint8.size(1);
  const std::int64_t height = images_uint8.size(2);
  const std::int64_t width = images_uint8.size(3);
  const auto tables = detail::pixel_tables(augmentation, channels);
  const at::Tensor images = images_uint8.contiguous();
  const auto batch = static_cast<std::int64_t>(sample_indices.size());
  at::Tensor out = at::empty({batch, channels, height, width}, at::kFloat);
  const std::int64_t sample = channels * height * width;
  for (std::int64_t b = 0; b < batch; ++b) {
    const SampleTransform t = sample_transform(augmentation, seed, epoch, sample_indices[b], train);
    detail::augment_sample(images.data_ptr<std::uint8_t>() + b * sample, channels, height, width,
                           augmentation.pad, t, tables, out.data_ptr<float>() + b * sample);
  }
  return out;
}

}  // namespace dgc::train
