#include "input/resample.h"

#include <algorithm>
#include <cmath>

#include "dgc/error.h"

namespace dgc::train {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS

double triangle(double x) {  // Pillow's bilinear_filter, support 1
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

std::uint8_t clip8(std::int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<std::uint8_t>(v >> kPrecisionBits);
}

}  // namespace

ResampleAxis bilinear_axis(std::int64_t window_begin, std::int64_t window_size, double in0,
                           double in1, std::int64_t out_size, std::int64_t out_begin,
                           std::int64_t out_count) {
  DGC_CHECK(window_size > 0 && out_size > 0 && in1 > in0, "resample: bad geometry: window ",
            window_size, ", box [", in0, ", ", in1, "), output ", out_size);
  DGC_CHECK(out_begin >= 0 && out_count > 0 && out_begin + out_count <= out_size,
            "resample: output pixels [", out_begin, ", ", out_begin + out_count, ") outside [0, ",
            out_size, ")");
  // Pillow's arithmetic, expression by expression: the weights must round as its do.
  const double scale = (in1 - in0) / static_cast<double>(out_size);
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  const auto ksize = static_cast<std::int64_t>(std::ceil(support)) * 2 + 1;

  ResampleAxis axis;
  axis.out_count = out_count;
  axis.ksize = ksize;
  axis.first.resize(out_count);
  axis.taps.resize(out_count);
  axis.weights.assign(static_cast<std::size_t>(out_count * ksize), 0);
  std::vector<double> k(ksize);
  axis.source_begin = window_begin + window_size;
  axis.source_end = window_begin;
  for (std::int64_t i = 0; i < out_count; ++i) {
    const std::int64_t xx = out_begin + i;
    const double center = in0 + (static_cast<double>(xx) + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    // Pillow rounds with a cast (truncation toward zero); a negative value clamps to 0 anyway.
    auto xmin = static_cast<std::int64_t>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    auto xmax = static_cast<std::int64_t>(center + support + 0.5);
    if (xmax > window_size) xmax = window_size;
    xmax -= xmin;
    xmax = std::min(xmax, ksize);
    double ww = 0.0;
    for (std::int64_t x = 0; x < xmax; ++x) {
      const double w = triangle((static_cast<double>(x + xmin) - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    std::int32_t* fixed = axis.weights.data() + i * ksize;
    for (std::int64_t x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      fixed[x] = static_cast<std::int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits)
                                                 : 0.5 + w * (1 << kPrecisionBits));
    }
    DGC_CHECK(xmax > 0, "resample: output pixel ", xx, " reads no source pixel");
    axis.first[i] = window_begin + xmin;
    axis.taps[i] = xmax;
    axis.source_begin = std::min(axis.source_begin, axis.first[i]);
    axis.source_end = std::max(axis.source_end, axis.first[i] + xmax);
  }
  return axis;
}

void resample_bilinear(const RgbImage& image, const ResampleAxis& x, const ResampleAxis& y,
                       std::uint8_t* out) {
  DGC_CHECK(x.source_begin >= image.x0 && x.source_end <= image.x0 + image.width &&
                y.source_begin >= image.y0 && y.source_end <= image.y0 + image.height,
            "resample: source columns [", x.source_begin, ", ", x.source_end, ") and rows [",
            y.source_begin, ", ", y.source_end, ") are not all in the decoded region at (",
            image.x0, ", ", image.y0, ") of ", image.width, "x", image.height);
  // Horizontal pass over the rows the vertical pass reads, as Pillow does (ybox_first..last).
  const std::int64_t rows = y.source_end - y.source_begin;
  const std::int64_t out_w = x.out_count;
  std::vector<std::uint8_t> temp(static_cast<std::size_t>(rows * out_w * 3));
  constexpr std::int32_t kHalf = 1 << (kPrecisionBits - 1);
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::uint8_t* src = image.row(y.source_begin + r - image.y0) - image.x0 * 3;
    std::uint8_t* dst = temp.data() + r * out_w * 3;
    for (std::int64_t i = 0; i < out_w; ++i) {
      const std::int32_t* k = x.weights.data() + i * x.ksize;
      const std::uint8_t* p = src + x.first[i] * 3;
      std::int32_t s0 = kHalf, s1 = kHalf, s2 = kHalf;
      for (std::int64_t t = 0; t < x.taps[i]; ++t, p += 3) {
        s0 += p[0] * k[t];
        s1 += p[1] * k[t];
        s2 += p[2] * k[t];
      }
      dst[i * 3 + 0] = clip8(s0);
      dst[i * 3 + 1] = clip8(s1);
      dst[i * 3 + 2] = clip8(s2);
    }
  }
  // Vertical pass: a whole output row at a time, so the inner loop runs along a row (and the
  // compiler vectorizes it).
  const std::int64_t row_len = out_w * 3;
  std::vector<std::int32_t> acc(static_cast<std::size_t>(row_len));
  for (std::int64_t j = 0; j < y.out_count; ++j) {
    std::fill(acc.begin(), acc.end(), kHalf);
    const std::int32_t* k = y.weights.data() + j * y.ksize;
    for (std::int64_t t = 0; t < y.taps[j]; ++t) {
      const std::uint8_t* src = temp.data() + (y.first[j] + t - y.source_begin) * row_len;
      const std::int32_t w = k[t];
      for (std::int64_t i = 0; i < row_len; ++i) acc[i] += src[i] * w;
    }
    std::uint8_t* dst = out + j * row_len;
    for (std::int64_t i = 0; i < row_len; ++i) dst[i] = clip8(acc[i]);
  }
}

}  // namespace dgc::train
