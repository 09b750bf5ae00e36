// Where the ImageNet transforms cut an image, before any pixel is touched: torchvision 0.14's
// RandomResizedCrop.get_params and RandomHorizontalFlip with counter-based randomness, and
// Resize(shorter side) + CenterCrop for evaluation.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>

#include "input/image_transform.h"

namespace dgc::train {

// Uniform doubles in [0, 1) that are a pure function of (key, i) for the i-th draw: splitmix64
// of the key, xor the counter, splitmix64 again (as augment.cpp's sample_transform), top 53
// bits. No generator state outlives one image.
class KeyedUniform {
 public:
  explicit KeyedUniform(std::uint64_t key) : key_(key) {}
  double next() { return at(counter_++); }
  double at(std::uint64_t i) const;

 private:
  std::uint64_t key_;
  std::uint64_t counter_ = 0;
};

// A crop box of whole pixels: rows [top, top + height), columns [left, left + width).
struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};

// torchvision's RandomResizedCrop.get_params for an image of width x height, drawing its
// uniforms from `uniform` in torchvision's order: per try, the area's then the log-ratio's;
// on success, the top's then the left's (randint(0, n + 1) is floor(u * (n + 1))). Ten tries,
// then the centre crop of the ratio clamped to [min_ratio, max_ratio].
CropBox random_resized_crop(std::int64_t width, std::int64_t height,
                            const ImageTransform& transform,
                            const std::function<double()>& uniform);

// Whether an image with this key is mirrored (RandomHorizontalFlip(p = 1/2) when flip is set).
bool random_flip(const ImageTransform& transform, std::uint64_t random_key);

// The crop box of training with `random_key`: random_resized_crop with KeyedUniform(key).
CropBox train_crop(std::int64_t width, std::int64_t height, const ImageTransform& transform,
                   std::uint64_t random_key);

// torchvision's Resize(resize_size) of an int: the shorter side becomes resize_size, the longer
// int(resize_size * long / short).
struct ResizedSize {
  std::int64_t width = 0, height = 0;
};
ResizedSize eval_resized_size(std::int64_t width, std::int64_t height, std::int64_t resize_size);

// CenterCrop(output_size) of the resized image: top = int(round((h - output_size) / 2.0)),
// round half to even as Python's round. Requires output_size <= both sides.
CropBox eval_center_crop(const ResizedSize& resized, std::int64_t output_size);

}  // namespace dgc::train
