// A small model, per-rank data and the checks that the suites of the distributed optimizer and
// of the comm hooks share.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "dgc/compressor.h"
#include "dgc/distributed_optimizer.h"
#include "mpi_test.h"

namespace dgc::test {

inline torch::nn::Sequential make_model(std::uint64_t seed) {
  torch::manual_seed(seed);
  return torch::nn::Sequential(torch::nn::Linear(16, 32), torch::nn::ReLU(),
                               torch::nn::Linear(32, 4));
}

// Every parameter flattened into one vector.
inline torch::Tensor flat_parameters(const torch::nn::Module& model) {
  std::vector<torch::Tensor> parts;
  for (const auto& p : model.parameters()) parts.push_back(p.detach().reshape({-1}));
  return torch::cat(parts);
}

// True when every rank holds bitwise the same `local`.
inline bool identical_on_all_ranks(const torch::Tensor& local) {
  const auto all = comm().allgather(local.contiguous()).view({comm().size(), -1});
  bool same = true;
  for (int r = 1; r < comm().size(); ++r) same &= torch::equal(all[r], all[0]);
  return same;
}

struct Batch {
  torch::Tensor x, y;
};
// Different data on every rank and step.
inline Batch batch(int step, std::int64_t size = 8) {
  torch::manual_seed(1000 + 100 * comm().rank() + step);
  return {torch::randn({size, 16}), torch::randint(0, 4, {size})};
}

inline torch::Tensor loss_of(torch::nn::Sequential& model, const Batch& b) {
  return torch::nn::functional::cross_entropy(model->forward(b.x), b.y);
}

inline CompressorOptions dgc_options(double ratio) {
  CompressorOptions o;
  o.compress_ratio = ratio;
  return o;
}

// Steps first_step .. first_step + steps - 1, each on its own batch.
inline void train(torch::nn::Sequential& model, DistributedOptimizer& opt, int steps,
                  int first_step = 0) {
  for (int step = first_step; step < first_step + steps; ++step) {
    opt.zero_grad();
    loss_of(model, batch(step)).backward();
    opt.step();
  }
}

}  // namespace dgc::test
