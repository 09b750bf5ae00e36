#include "input/image_geometry.h"

#include <algorithm>
#include <cmath>

#include "dgc/error.h"
#include "input/splitmix64.h"

namespace dgc::train {
namespace {

// Python's round() of a non-negative double: half to even, which std::nearbyint does in the
// default rounding mode.
std::int64_t py_round(double v) { return static_cast<std::int64_t>(std::nearbyint(v)); }

// The counter of the flip's draw, far from the crop's (at most 40 draws).
constexpr std::uint64_t kFlipCounter = 1000;

}  // namespace

double KeyedUniform::at(std::uint64_t i) const {
  const std::uint64_t bits = splitmix64(splitmix64(key_) ^ i);
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

CropBox random_resized_crop(std::int64_t width, std::int64_t height,
                            const ImageTransform& transform,
                            const std::function<double()>& uniform) {
  DGC_CHECK(width > 0 && height > 0, "random_resized_crop: empty image ", width, "x", height);
  const double area = static_cast<double>(height * width);
  const double log_min = std::log(transform.min_ratio), log_max = std::log(transform.max_ratio);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area =
        area * (transform.min_scale + uniform() * (transform.max_scale - transform.min_scale));
    const double aspect_ratio = std::exp(log_min + uniform() * (log_max - log_min));
    const std::int64_t w = py_round(std::sqrt(target_area * aspect_ratio));
    const std::int64_t h = py_round(std::sqrt(target_area / aspect_ratio));
    if (0 < w && w <= width && 0 < h && h <= height) {
      CropBox box;
      box.height = h;
      box.width = w;
      box.top = std::min(static_cast<std::int64_t>(uniform() * static_cast<double>(height - h + 1)),
                         height - h);
      box.left = std::min(static_cast<std::int64_t>(uniform() * static_cast<double>(width - w + 1)),
                          width - w);
      return box;
    }
  }
  // Fallback: the whole image, or its centre at the nearest allowed ratio.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  std::int64_t w = width, h = height;
  const double min_ratio = std::min(transform.min_ratio, transform.max_ratio);
  const double max_ratio = std::max(transform.min_ratio, transform.max_ratio);
  if (in_ratio < min_ratio) {
    h = py_round(static_cast<double>(w) / min_ratio);
  } else if (in_ratio > max_ratio) {
    w = py_round(static_cast<double>(h) * max_ratio);
  }
  CropBox box;
  box.height = h;
  box.width = w;
  box.top = (height - h) / 2;
  box.left = (width - w) / 2;
  return box;
}

bool random_flip(const ImageTransform& transform, std::uint64_t random_key) {
  return transform.flip && KeyedUniform(random_key).at(kFlipCounter) < 0.5;
}

CropBox train_crop(std::int64_t width, std::int64_t height, const ImageTransform& transform,
                   std::uint64_t random_key) {
  KeyedUniform uniform(random_key);
  return random_resized_crop(width, height, transform, [&uniform] { return uniform.next(); });
}

ResizedSize eval_resized_size(std::int64_t width, std::int64_t height, std::int64_t resize_size) {
  DGC_CHECK(width > 0 && height > 0, "resize: empty image ", width, "x", height);
  const std::int64_t short_side = std::min(width, height), long_side = std::max(width, height);
  // Python's int(size * long / short): an exact integer product, a true division, truncation.
  const auto new_long = static_cast<std::int64_t>(static_cast<double>(resize_size * long_side) /
                                                  static_cast<double>(short_side));
  if (width <= height) return {resize_size, new_long};
  return {new_long, resize_size};
}

CropBox eval_center_crop(const ResizedSize& resized, std::int64_t output_size) {
  DGC_CHECK(output_size <= resized.width && output_size <= resized.height, "centre crop of ",
            output_size, " from a resized image of ", resized.width, "x", resized.height);
  CropBox box;
  box.height = output_size;
  box.width = output_size;
  box.top = py_round(static_cast<double>(resized.height - output_size) / 2.0);
  box.left = py_round(static_cast<double>(resized.width - output_size) / 2.0);
  return box;
}

}  // namespace dgc::train
