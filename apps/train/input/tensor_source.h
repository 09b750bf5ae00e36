// A SampleSource over images held in memory (Fashion-MNIST, CIFAR-10, synthetic), with the
// augmentation of augment.h: the CIFAR recipe's crop and flip in train mode, normalization only
// otherwise.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <vector>

#include "input/augment.h"
#include "input/sample_source.h"

namespace dgc::train {

class TensorSource : public SampleSource {
 public:
  // images: uint8 [N, C, H, W]; labels: int64 [N]. The tensors are shared, not copied (made
  // contiguous first if they are not): do not modify them while the source lives. `seed` and
  // `train` select the augmentation's randomness and mode (augment_batch). Bad tensors or a
  // normalization that does not fit the channels are a dgc::Error.
  TensorSource(at::Tensor images, at::Tensor labels, Augmentation augmentation, std::uint64_t seed,
               bool train);

  std::int64_t size() const override { return images_.size(0); }
  std::int64_t label(std::int64_t index) const override;
  std::vector<std::int64_t> sample_shape() const override;
  void prepare(std::int64_t index, std::int64_t epoch, float* out) const override;

 private:
  const at::Tensor images_;
  const at::Tensor labels_;
  const Augmentation augmentation_;
  const std::uint64_t seed_;
  const bool train_;
  const std::vector<std::array<float, 256>> tables_;
};

}  // namespace dgc::train
