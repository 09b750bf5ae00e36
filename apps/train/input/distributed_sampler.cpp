#include "input/distributed_sampler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/randperm.h>

#include <algorithm>
#include <numeric>

#include "dgc/error.h"

namespace dgc::train {

DistributedSampler::DistributedSampler(std::int64_t dataset_size, int rank, int world_size,
                                       bool shuffle, std::uint64_t seed)
    : dataset_size_(dataset_size),
      rank_(rank),
      world_size_(world_size),
      shuffle_(shuffle),
      seed_(seed) {
  DGC_CHECK(dataset_size >= 1, "DistributedSampler: the dataset is empty (size ", dataset_size,
            ")");
  DGC_CHECK(world_size >= 1, "DistributedSampler: world_size must be at least 1, got ", world_size);
  DGC_CHECK(rank >= 0 && rank < world_size, "DistributedSampler: rank ", rank, " is outside [0, ",
            world_size, ")");
  num_samples_ = (dataset_size + world_size - 1) / world_size;
}

std::vector<std::int64_t> DistributedSampler::indices() const {
  std::vector<std::int64_t> order(static_cast<std::size_t>(dataset_size_));
  if (shuffle_) {
    // A private generator per call: the order is a pure function of (seed, epoch), so it is the
    // same on every rank and after a resume, whatever else consumed random numbers meanwhile.
    // PyTorch seeds with seed + epoch as a Python int; the unsigned sum wraps the same way.
    at::Generator generator =
        at::detail::createCPUGenerator(seed_ + static_cast<std::uint64_t>(epoch_));
    at::Tensor perm = at::randperm(dataset_size_, generator, at::kLong);
    const std::int64_t* data = perm.data_ptr<std::int64_t>();
    std::copy(data, data + dataset_size_, order.begin());
  } else {
    std::iota(order.begin(), order.end(), std::int64_t{0});
  }
  // Padding repeats the permutation from its start (cyclically when world_size > N, as PyTorch
  // does), then this rank takes positions rank, rank + world, ...
  std::vector<std::int64_t> mine;
  mine.reserve(static_cast<std::size_t>(num_samples_));
  for (std::int64_t i = rank_; i < total_size(); i += world_size_) {
    mine.push_back(order[static_cast<std::size_t>(i % dataset_size_)]);
  }
  return mine;
}

}  // namespace dgc::train
