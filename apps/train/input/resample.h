// Pillow's bilinear resize (Image.resize(size, BILINEAR, box)), which torchvision's Resize and
// RandomResizedCrop call on PIL images: a triangle filter whose support grows with the
// downscale factor (so a reduction averages every source pixel, no aliasing), applied
// separably, horizontal pass first, each pass rounded to 8 bits with 22-bit fixed-point
// weights. The code follows Pillow 9.4's Resample.c (precompute_coeffs, normalize_coeffs_8bpc,
// ImagingResampleHorizontal_8bpc / Vertical_8bpc), so on the same pixels and box it gives
// Pillow's bytes.
//
// Beyond Pillow: only a window of the output is computed (the centre crop of an evaluation
// resize costs only its own pixels), and the source box is fractional and may sit inside a
// larger decoded region (the crop box mapped into a DCT-scaled image).
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "input/image_decode.h"

namespace dgc::train {

// One axis of a resize: for each computed output pixel, the source pixels it reads and their
// weights.
struct ResampleAxis {
  std::int64_t out_count = 0;  // output pixels computed
  // Every output pixel reads `taps` consecutive source pixels from `first` on, with zero
  // weights where Pillow's filter reads fewer: one loop length for all, no mispredicted exits.
  std::int64_t taps = 0;
  std::vector<std::int64_t> first;    // per output pixel: its first source pixel
  std::vector<std::int32_t> weights;  // out_count * taps fixed-point weights, 22 fraction bits
  // The source pixels any output pixel reads: [source_begin, source_end).
  std::int64_t source_begin = 0, source_end = 0;
};

// Pillow's coefficients for a resize of the box [in0, in1) of a window of source pixels
// [window_begin, window_begin + window_size) to out_size pixels (in0, in1 relative to
// window_begin; the filter never reads outside the window, as Pillow never reads outside the
// image), computed for the output pixels [out_begin, out_begin + out_count) only. Source
// positions in the result are absolute (window_begin added).
ResampleAxis bilinear_axis(std::int64_t window_begin, std::int64_t window_size, double in0,
                           double in1, std::int64_t out_size, std::int64_t out_begin,
                           std::int64_t out_count);

// The resize of `image` (which must hold the source pixels both axes read, in the same
// coordinates) into out: y.out_count rows of x.out_count RGB pixels.
void resample_bilinear(const RgbImage& image, const ResampleAxis& x, const ResampleAxis& y,
                       std::uint8_t* out);

}  // namespace dgc::train
