// transform_image: geometry first (image_geometry.h), then decode only what that geometry reads,
// then Pillow's resize (resample.h), flip and normalization.
//
// The resize reads a box of the image (the random crop in training, the whole image in
// evaluation) and makes it `target` pixels (output_size square, or the shorter side resized to
// resize_size) of which it computes only the output window (all of it, or the centre crop).
// A JPEG is decoded at the smallest DCT scale s/8 (of 1/8, 2/8, 4/8: the fast ones) that keeps
// the box at least `target` in both dimensions: libjpeg's scaled inverse DCT does most of a large
// reduction almost for free, and Pillow's filter does the rest (from at least the target size, so
// it never upscales what the DCT shrank). The box then maps into the scaled image as box * s/8,
// fractional. Only the rows and columns the filter reads are decoded.
#include "input/image_transform.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include "dgc/error.h"
#include "input/image_decode.h"
#include "input/image_geometry.h"
#include "input/resample.h"

namespace dgc::train {
namespace {

void check_transform(const ImageTransform& t) {
  DGC_CHECK(t.output_size > 0 && t.output_size <= kMaxImageSide, "image transform: output_size ",
            t.output_size, " is not in [1, ", kMaxImageSide, "]");
  DGC_CHECK(t.train || (t.resize_size >= t.output_size && t.resize_size <= kMaxImageSide),
            "image transform: resize_size ", t.resize_size, " is smaller than output_size ",
            t.output_size, " or larger than ", kMaxImageSide);
  DGC_CHECK(0 < t.min_scale && t.min_scale <= t.max_scale && t.max_scale <= 1.0,
            "image transform: the scale range [", t.min_scale, ", ", t.max_scale,
            "] is not inside (0, 1]");
  DGC_CHECK(0 < t.min_ratio && t.min_ratio <= t.max_ratio, "image transform: the ratio range [",
            t.min_ratio, ", ", t.max_ratio, "] is empty or not positive");
  DGC_CHECK(t.mean.size() == 3 && t.std.size() == 3,
            "image transform: mean and std need 3 "
            "values each, got ",
            t.mean.size(), " and ", t.std.size());
  for (float s : t.std) DGC_CHECK(s > 0.0f, "image transform: std ", s, " is not positive");
}

// What the resize does along one axis, in the full-size image's pixels.
struct AxisPlan {
  std::int64_t window_begin, window_end;  // the pixels the filter may read
  std::int64_t box_begin, box_end;        // the part resized (integers at full size)
  std::int64_t target;                    // its size after the resize
  std::int64_t out_begin;                 // the first output pixel kept (of output_size)
};

// The smallest s in {1, 2, 4} with box * s / 8 >= target on both axes, else 8. libjpeg-turbo
// has SIMD code only for the full-size inverse DCT, and its other scaled ones are plain C:
// decoding a 500x375 photo here took 565, 733 and 952 us at 1/8, 2/8 and 4/8 and 1077 us at 8/8,
// but 1060, 1517, 1757 and 2230 us at 3/8, 5/8, 6/8 and 7/8 (slower than full size).
int dct_scale(const AxisPlan& x, const AxisPlan& y) {
  for (int s : {1, 2, 4}) {
    if ((x.box_end - x.box_begin) * s >= 8 * x.target &&
        (y.box_end - y.box_begin) * s >= 8 * y.target) {
      return s;
    }
  }
  return 8;
}

// The axis in the coordinates of the image scaled by s/8 (`scaled` pixels long).
ResampleAxis scaled_axis(const AxisPlan& a, int s, std::int64_t scaled, std::int64_t out_count) {
  const double f = s / 8.0;
  const auto window_begin = static_cast<std::int64_t>(std::floor(a.window_begin * f));
  const auto window_end = std::min(scaled, static_cast<std::int64_t>(std::ceil(a.window_end * f)));
  const double in0 = a.box_begin * f - static_cast<double>(window_begin);
  const double in1 = a.box_end * f - static_cast<double>(window_begin);
  return bilinear_axis(window_begin, window_end - window_begin, in0, in1, a.target, a.out_begin,
                       out_count);
}

// ToTensor then Normalize, in torchvision's float32 operations, for every byte value.
std::array<std::array<float, 256>, 3> normalization_table(const ImageTransform& t) {
  std::array<std::array<float, 256>, 3> table{};
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      table[c][v] = (static_cast<float>(v) / 255.0f - t.mean[c]) / t.std[c];
    }
  }
  return table;
}

}  // namespace

void transform_image(const std::uint8_t* bytes, std::size_t size, const ImageTransform& transform,
                     std::uint64_t random_key, float* out) {
  check_transform(transform);
  const ImageFormat format = sniff_image_format(bytes, size);
  std::optional<JpegReader> jpeg;
  RgbImage image;
  std::int64_t width = 0, height = 0;
  if (format == ImageFormat::kJpeg) {
    jpeg.emplace(bytes, size);
    width = jpeg->width();
    height = jpeg->height();
  } else {
    image = decode_png(bytes, size);
    width = image.width;
    height = image.height;
  }

  const std::int64_t n = transform.output_size;
  AxisPlan x{}, y{};
  bool flip = false;
  if (transform.train) {
    // Pillow crops first and resizes the crop: the filter reads nothing outside the crop.
    const CropBox crop = train_crop(width, height, transform, random_key);
    x = {crop.left, crop.left + crop.width, crop.left, crop.left + crop.width, n, 0};
    y = {crop.top, crop.top + crop.height, crop.top, crop.top + crop.height, n, 0};
    flip = random_flip(transform, random_key);
  } else {
    const ResizedSize resized = eval_resized_size(width, height, transform.resize_size);
    const CropBox crop = eval_center_crop(resized, n);
    x = {0, width, 0, width, resized.width, crop.left};
    y = {0, height, 0, height, resized.height, crop.top};
  }

  const int s = jpeg && transform.dct_scaling ? dct_scale(x, y) : 8;
  const std::int64_t scaled_w = jpeg ? jpeg->scaled_width(s) : width;
  const std::int64_t scaled_h = jpeg ? jpeg->scaled_height(s) : height;
  const ResampleAxis ax = scaled_axis(x, s, scaled_w, n);
  const ResampleAxis ay = scaled_axis(y, s, scaled_h, n);
  if (jpeg) {
    image = jpeg->decode(s, ax.source_begin, ay.source_begin, ax.source_end, ay.source_end,
                         transform.region_decoding);
  }

  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n * n * 3));
  resample_bilinear(image, ax, ay, pixels.data());

  const auto table = normalization_table(transform);
  const std::int64_t plane = n * n;
  for (std::int64_t r = 0; r < n; ++r) {
    const std::uint8_t* row = pixels.data() + r * n * 3;
    for (int c = 0; c < 3; ++c) {
      const float* lut = table[c].data();
      float* dst = out + c * plane + r * n;
      if (flip) {
        for (std::int64_t i = 0; i < n; ++i) dst[i] = lut[row[(n - 1 - i) * 3 + c]];
      } else {
        for (std::int64_t i = 0; i < n; ++i) dst[i] = lut[row[i * 3 + c]];
      }
    }
  }
}

}  // namespace dgc::train
