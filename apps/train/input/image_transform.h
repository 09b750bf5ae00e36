// One encoded image file into the network's input: the ImageNet transforms of ALGORITHM.md
// section 9, decoded with libjpeg-turbo.
//
// Training: torchvision's RandomResizedCrop(output_size, scale, ratio) — up to 10 tries for a
// box of the drawn area and aspect ratio inside the image, else the centre crop of the clamped
// ratio — then RandomHorizontalFlip(p = 1/2). Evaluation: Resize(resize_size) of the shorter
// side, then CenterCrop(output_size). Both end with ToTensor and Normalize(mean, std).
// The randomness is a pure function of `random_key` (the caller derives it from the seed, the
// epoch and the sample's index), never of a generator's state or of the calling thread.
//
// Thread safety: pure functions; any thread may call them at once. They run no ATen kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dgc::train {

struct ImageTransform {
  // true: the random-resized crop and flip; false: resize and centre crop.
  bool train = true;
  // The side of the square output. Default: ImageNet's 224.
  std::int64_t output_size = 224;
  // Evaluation: the shorter side is resized to this before the centre crop. Default: 256.
  std::int64_t resize_size = 256;
  // Training: the crop's area as a fraction of the image's, and its aspect ratio (w / h).
  double min_scale = 0.08, max_scale = 1.0;
  double min_ratio = 3.0 / 4.0, max_ratio = 4.0 / 3.0;
  // Training: mirror with probability 1/2.
  bool flip = true;
  // Per-channel normalization after scaling to [0, 1], three values each. Default: ImageNet's.
  std::vector<float> mean = {0.485f, 0.456f, 0.406f};
  std::vector<float> std = {0.229f, 0.224f, 0.225f};
  // JPEG decoding shortcuts (image_transform.cpp). Turning both off (the benchmark and tests
  // do) decodes the whole image at full size, as Pillow does: the output is then torchvision's
  // on PIL, bit for bit (tested).
  // dct_scaling: decode at the smallest scale s/8 of 1/8, 2/8, 4/8 (libjpeg's DCT scaling) that
  // keeps the part of the image to be resized at least as large as its resized size. Where it
  // applies (reductions of 2x or more) the output differs slightly from torchvision's (the DCT's
  // low-pass filter is not Pillow's triangle). Default: true.
  bool dct_scaling = true;
  // region_decoding: decode only the rows and columns the resize reads; changes no output
  // pixel. Default: true.
  bool region_decoding = true;
};

// Decodes `bytes` (the whole file: a JPEG in any colour space, or a PNG), applies `transform`
// and writes float32 [3, output_size, output_size] to `out`. Grayscale and CMYK become RGB.
// Throws dgc::Error saying why the bytes cannot be decoded (empty, neither JPEG nor PNG,
// truncated, corrupt); `out` may then hold partial results.
void transform_image(const std::uint8_t* bytes, std::size_t size, const ImageTransform& transform,
                     std::uint64_t random_key, float* out);

}  // namespace dgc::train
