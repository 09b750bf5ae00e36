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

constexpr std::int32_t kHalf = 1 << (kPrecisionBits - 1);

// One row of the horizontal pass with N taps per output pixel: a constant trip count the
// compiler unrolls (most resizes here have 3 to 7 taps).
template <int N>
void horizontal_row_n(const std::uint8_t* src, const ResampleAxis& x, std::uint8_t* dst) {
  const std::int32_t* k = x.weights.data();
  for (std::int64_t i = 0; i < x.out_count; ++i, k += N, dst += 3) {
    const std::uint8_t* p = src + x.first[i] * 3;
    std::int32_t s0 = kHalf, s1 = kHalf, s2 = kHalf;
    for (int t = 0; t < N; ++t) {
      s0 += p[3 * t] * k[t];
      s1 += p[3 * t + 1] * k[t];
      s2 += p[3 * t + 2] * k[t];
    }
    dst[0] = clip8(s0);
    dst[1] = clip8(s1);
    dst[2] = clip8(s2);
  }
}

void horizontal_row(const std::uint8_t* src, const ResampleAxis& x, std::uint8_t* dst) {
  switch (x.taps) {
    case 3:
      return horizontal_row_n<3>(src, x, dst);
    case 4:
      return horizontal_row_n<4>(src, x, dst);
    case 5:
      return horizontal_row_n<5>(src, x, dst);
    case 6:
      return horizontal_row_n<6>(src, x, dst);
    case 7:
      return horizontal_row_n<7>(src, x, dst);
    default:
      break;
  }
  const std::int32_t* k = x.weights.data();
  for (std::int64_t i = 0; i < x.out_count; ++i, k += x.taps, dst += 3) {
    const std::uint8_t* p = src + x.first[i] * 3;
    std::int32_t s0 = kHalf, s1 = kHalf, s2 = kHalf;
    for (std::int64_t t = 0; t < x.taps; ++t, p += 3) {
      s0 += p[0] * k[t];
      s1 += p[1] * k[t];
      s2 += p[2] * k[t];
    }
    dst[0] = clip8(s0);
    dst[1] = clip8(s1);
    dst[2] = clip8(s2);
  }
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

  std::vector<std::int64_t> first(out_count), taps(out_count);
  std::vector<std::int32_t> weights(static_cast<std::size_t>(out_count * ksize), 0);
  std::vector<double> k(ksize);
  std::int64_t source_begin = window_begin + window_size, source_end = window_begin;
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
    std::int32_t* fixed = weights.data() + i * ksize;
    for (std::int64_t x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      fixed[x] = static_cast<std::int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits)
                                                 : 0.5 + w * (1 << kPrecisionBits));
    }
    DGC_CHECK(xmax > 0, "resample: output pixel ", xx, " reads no source pixel");
    first[i] = window_begin + xmin;
    taps[i] = xmax;
    source_begin = std::min(source_begin, first[i]);
    source_end = std::max(source_end, first[i] + xmax);
  }

  // One loop length for all output pixels: each reads `n` pixels, starting early enough to stay
  // inside [source_begin, source_end), with its weights shifted to match and zeros around them.
  const std::int64_t n = std::min(ksize, source_end - source_begin);
  ResampleAxis axis;
  axis.out_count = out_count;
  axis.taps = n;
  axis.first.resize(out_count);
  axis.weights.assign(static_cast<std::size_t>(out_count * n), 0);
  axis.source_begin = source_begin;
  axis.source_end = source_end;
  for (std::int64_t i = 0; i < out_count; ++i) {
    const std::int64_t start = std::min(first[i], source_end - n);
    axis.first[i] = start;
    for (std::int64_t t = 0; t < taps[i]; ++t) {
      axis.weights[i * n + first[i] - start + t] = weights[i * ksize + t];
    }
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
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::uint8_t* src = image.row(y.source_begin + r - image.y0) - image.x0 * 3;
    std::uint8_t* dst = temp.data() + r * out_w * 3;
    horizontal_row(src, x, dst);
  }
  // Vertical pass: a whole output row at a time, so the inner loop runs along a row (and the
  // compiler vectorizes it).
  const std::int64_t row_len = out_w * 3;
  std::vector<std::int32_t> acc(static_cast<std::size_t>(row_len));
  for (std::int64_t j = 0; j < y.out_count; ++j) {
    std::fill(acc.begin(), acc.end(), kHalf);
    const std::int32_t* k = y.weights.data() + j * y.taps;
    for (std::int64_t t = 0; t < y.taps; ++t) {
      const std::uint8_t* src = temp.data() + (y.first[j] + t - y.source_begin) * row_len;
      const std::int32_t w = k[t];
      for (std::int64_t i = 0; i < row_len; ++i) acc[i] += src[i] * w;
    }
    std::uint8_t* dst = out + j * row_len;
    for (std::int64_t i = 0; i < row_len; ++i) dst[i] = clip8(acc[i]);
  }
}

}  // namespace dgc::train
