// Which samples of a dataset this rank visits in an epoch: PyTorch's DistributedSampler.
//
// Every rank draws the same permutation of [0, N) from a generator seeded with seed + epoch (the
// ranks never communicate about it, so the seed and epoch must agree everywhere), pads it to a
// multiple of the world size by repeating its start, and keeps every world_size-th index starting
// at its rank. So the ranks' shares are disjoint up to the padding, cover the whole dataset, and
// have the same length: every rank runs the same number of steps, which the collective exchange
// of the optimizer needs. The permutation is torch.randperm with a CPU generator seeded like
// `torch.Generator().manual_seed(seed + epoch)`, the same order the seed's Python sampler gives.
//
// Thread safety: const methods may be called concurrently; set_epoch may not race with them.
#pragma once

#include <cstdint>
#include <vector>

namespace dgc::train {

class DistributedSampler {
 public:
  // dataset_size >= 1, world_size >= 1, 0 <= rank < world_size; otherwise a dgc::Error.
  // shuffle = false keeps the identity order (evaluation), still sharded and padded.
  DistributedSampler(std::int64_t dataset_size, int rank, int world_size, bool shuffle,
                     std::uint64_t seed);

  // Selects the permutation of the coming epoch; call it before indices(), as in PyTorch.
  void set_epoch(std::int64_t epoch) { epoch_ = epoch; }
  std::int64_t epoch() const { return epoch_; }

  // This rank's dataset indices for the current epoch, in visiting order; num_samples() long.
  std::vector<std::int64_t> indices() const;

  // ceil(dataset_size / world_size): the same on every rank.
  std::int64_t num_samples() const { return num_samples_; }
  // num_samples() * world_size: the padded length of the permutation.
  std::int64_t total_size() const { return num_samples_ * world_size_; }

 private:
  std::int64_t dataset_size_;
  int rank_;
  int world_size_;
  bool shuffle_;
  std::uint64_t seed_;
  std::int64_t epoch_ = 0;
  std::int64_t num_samples_;
};

}  // namespace dgc::train
