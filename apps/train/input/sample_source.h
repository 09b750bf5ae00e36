// Where a BatchLoader's samples come from: images held in memory (tensor_source.h) or files
// decoded on demand (data/image_folder.h).
//
// A source prepares one sample at a time, as the float tensor the model takes, from the
// sample's dataset index and the epoch alone: any randomness (crop, flip) is counter-based
// (augment.h, sample_random_key), so the loader may prepare samples on any thread, in any order,
// and a resumed run sees the same samples as an uninterrupted one.
//
// Thread safety: every method is const and may be called from several threads at once.
#pragma once

#include <cstdint>
#include <vector>

namespace dgc::train {

class SampleSource {
 public:
  virtual ~SampleSource() = default;

  // Samples in the dataset: indices are [0, size()).
  virtual std::int64_t size() const = 0;
  // The class of sample `index`, in [0, num_classes).
  virtual std::int64_t label(std::int64_t index) const = 0;
  // [C, H, W] of every prepared sample.
  virtual std::vector<std::int64_t> sample_shape() const = 0;
  // Writes sample `index` as prepared for `epoch` to `out` (C * H * W floats). Throws
  // dgc::Error when it cannot (the BatchLoader rethrows it in the training loop).
  virtual void prepare(std::int64_t index, std::int64_t epoch, float* out) const = 0;
};

}  // namespace dgc::train
