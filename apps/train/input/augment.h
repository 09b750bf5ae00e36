// Training augmentation and normalization of image batches (ALGORITHM.md section 9).
//
// In train mode each sample gets torchvision's RandomCrop(H x W, padding=pad) from the
// zero-padded image followed by RandomHorizontalFlip(p = 1/2); then every mode maps a pixel x of
// channel c to (x / 255 - mean[c]) / std[c]. The randomness is counter-based: a sample's crop
// offset and flip are a pure function of (seed, epoch, dataset index), never of a generator's
// state, of the batch it lands in, or of the thread that computes it. So a run resumed mid-epoch,
// or a loader with any prefetch depth, sees exactly the augmentations of an uninterrupted run.
//
// Tensors are at::Tensor, which is torch::Tensor: the ATen header keeps compile times down.
// Thread safety: every function here is pure and may be called from any thread.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

namespace dgc::train {

struct Augmentation {
  // Zero padding on each side before the random crop back to H x W; 0 disables the crop.
  std::int64_t pad = 0;
  // Horizontal flip with probability 1/2 in train mode.
  bool flip = false;
  // Per-channel normalization after scaling to [0, 1]; both empty means no normalization,
  // otherwise both must have one entry per image channel.
  std::vector<float> mean;
  std::vector<float> std;
};

// The seed's CIFAR-10 recipe: crop 32 with padding 4, flip, CIFAR mean/std.
Augmentation cifar10_train();
// CIFAR-10 evaluation: normalization only.
Augmentation cifar10_test();
// Fashion-MNIST: crop 28 with padding 2, flip, the dataset's mean/std.
Augmentation fashion_mnist_train();
// Fashion-MNIST evaluation: normalization only.
Augmentation fashion_mnist_test();
// Scaling to [0, 1] only: synthetic data and tests.
Augmentation plain();

// What train mode does to one sample: the top-left corner (dy, dx) of the H x W window in the
// padded image, each in [0, 2 * pad], and whether to mirror. In test mode: (pad, pad), no flip,
// which is the identity.
struct SampleTransform {
  std::int64_t dy = 0;
  std::int64_t dx = 0;
  bool flip = false;
};
SampleTransform sample_transform(const Augmentation& augmentation, std::uint64_t seed,
                                 std::int64_t epoch, std::int64_t sample_index, bool train);

// The 64 random bits of one sample in one epoch, a pure function of its arguments: what
// sample_transform draws from, and the key of the ImageNet transforms (image_transform.h).
std::uint64_t sample_random_key(std::uint64_t seed, std::int64_t epoch, std::int64_t sample_index);

// images_uint8: uint8 [B, C, H, W]; sample_indices: the B dataset indices of these images (they
// select the randomness, see above). Returns float32 [B, C, H, W], contiguous.
// Errors (dgc::Error): a wrong dtype or rank, B != sample_indices.size(), pad < 0, or mean/std
// sizes that do not match C.
at::Tensor augment_batch(const at::Tensor& images_uint8,
                         const std::vector<std::int64_t>& sample_indices,
                         const Augmentation& augmentation, std::uint64_t seed, std::int64_t epoch,
                         bool train);

namespace detail {

// The value of each byte 0..255 of each channel after scaling and normalization: a lookup
// computes exactly what the op-by-op (x.float() / 255 - mean) / std would. Checks the
// normalization against `channels` (the errors of augment_batch).
std::vector<std::array<float, 256>> pixel_tables(const Augmentation& augmentation,
                                                 std::int64_t channels);

// One sample: `image` uint8 [channels, height, width] into float `out` of the same shape, with
// the crop and flip of `t`. augment_batch is this per sample.
void augment_sample(const std::uint8_t* image, std::int64_t channels, std::int64_t height,
                    std::int64_t width, std::int64_t pad, const SampleTransform& t,
                    const std::vector<std::array<float, 256>>& tables, float* out);

}  // namespace detail
}  // namespace dgc::train
