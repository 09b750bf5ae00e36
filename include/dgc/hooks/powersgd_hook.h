// `powersgd`: rank-r PowerSGD (Vogels, Karimireddy and Jaggi, "PowerSGD: Practical Low-Rank
// Gradient Compression for Distributed Optimization", NeurIPS 2019) with error feedback and warm
// start, with the semantics of PyTorch 1.13's powerSGD_hook (docs/POWERSGD.md says where and why
// it departs from it).
//
// Per bucket and step, everything on the communication thread in run():
//   - The first start_powerSGD_iter steps: the plain averaged allreduce of the whole bucket (the
//     `allreduce` hook's, bitwise), no error feedback. Early training is sensitive to the
//     compression's bias; PyTorch defers it the same way.
//   - Afterwards, with error feedback, each compressed tensor's error from the previous step is
//     added to its gradient. Tensors of fewer than two dimensions, and matrices not worth
//     compressing (n * m <= (n + m) * r * min_compression_rate, PyTorch's _should_compress), go
//     in one fused allreduce, averaged, sent exactly. Every other tensor is viewed as an n x m
//     matrix M (n = shape[0]) of rank r = min(n, m, matrix_approximation_rank), and:
//         orthogonalize Q;  P = M Q;  allreduce (sum) every P of the bucket in one buffer;
//         orthogonalize P;  Q = M^T P;  allreduce every Q in one buffer, divided by world size;
//     finish() writes P Q^T, the same on every rank, and the new error M - P Q^T (M with the old
//     error added) waits for the next step. Orthogonalization is Gram-Schmidt over the columns,
//     as PyTorch's _orthogonalize_gram_schmidt: each column divided by its norm (plus
//     orthogonalization_epsilon when that is > 0), then projected out of the columns after it.
//   - Warm start: Q is kept from one step to the next (the power iteration continues where it
//     stopped). It is drawn once, at the bucket's first compressed step; without warm start it
//     is drawn afresh every step. Drawing Q: for each compressed tensor of the bucket in bucket
//     order, torch::randn({m, r}) from one at::CPUGeneratorImpl per bucket and step, seeded with
//         splitmix64(splitmix64(splitmix64(seed) ^ bucket) ^ step)
//     (splitmix64(x): x += 0x9e3779b97f4a7c15; x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
//     x = (x ^ (x >> 27)) * 0x94d049bb133111eb; x ^ (x >> 31)), so every rank draws the same Q
//     and a resumed run needs no generator state.
//
// The step count is the hook's: it grows by one when the last bucket of a step has run (buckets
// run in index order every step), like PyTorch's maybe_increase_iter.
//
// State (has_state, save/load): the step count and each bucket's error and Q, with a format
// version; P is recomputed every step. Each rank saves its own (errors differ between ranks).
// Before the first exchange, and again after load(), the ranks check that they agree on each
// bucket's layout, the step count and the settings.
//
// The inner optimizer applies the momentum (a normal momentum SGD), as with the dense hooks.
//
// Thread safety and order: CommHook's contract (every rank makes the same calls in the same
// order); the accessors below are for the caller's thread between steps.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dgc/comm_hook.h"
#include "dgc/export.h"

namespace dgc {

// The fields are PyTorch's PowerSGDState names, so settings port as they are.
struct PowerSgdOptions {
  // r, the rank of the approximation of each compressed matrix (capped at its smaller side).
  // Lower compresses more; PyTorch suggests 1, 2, 4, ... until the accuracy is right [1].
  std::int64_t matrix_approximation_rank = 1;
  // Steps of plain averaged allreduce before compression starts [1000, PyTorch's default;
  // PyTorch suggests about 10% of the training's steps]. Any value >= 0: buckets are fixed at
  // construction here, so PyTorch's rule that it be > 1 (DDP rebuilds its buckets after step 1)
  // does not apply.
  std::int64_t start_powerSGD_iter = 1000;
  // A matrix is compressed only when its elements exceed min_compression_rate times what P and Q
  // send, (n + m) * r; smaller ones go in the bucket's exact allreduce [2].
  double min_compression_rate = 2;
  // Add each step's compression error to the next step's gradient [true]. PowerSGD is biased;
  // without it accuracy usually suffers. Costs one float per compressed element.
  bool use_error_feedback = true;
  // Keep Q from one step to the next instead of drawing it afresh [true]: a better approximation
  // for the same rank. Costs (sum of m * r) floats per bucket.
  bool warm_start = true;
  // Added to each column's norm in the orthogonalization [0]. With 0, a column whose norm is 0
  // (a layer whose gradient is 0 on every rank) becomes 0 instead of NaN.
  double orthogonalization_epsilon = 0;
  // Seed of Q's draws (above); every rank must use the same [0].
  std::uint64_t seed = 0;
};

// Throws dgc::Error naming the first bad field.
DGC_EXPORT void validate(const PowerSgdOptions& options);

class DGC_EXPORT PowerSgdHook : public CommHook {
 public:
  // Throws dgc::Error (validate) for bad options.
  explicit PowerSgdHook(PowerSgdOptions options = {});
  ~PowerSgdHook() override;

  std::string name() const override { return "powersgd"; }
  void prepare(const std::vector<HookTensor>& tensors,
               const std::vector<std::vector<std::size_t>>& buckets, Communicator& comm) override;
  void run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) override;
  void finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) override;
  bool has_state() const override { return true; }
  void save(torch::serialize::OutputArchive& archive) const override;
  // A missing entry, another format version, another number of buckets, or an error or Q of
  // another size is a dgc::Error naming it; the state is then left as it was.
  void load(torch::serialize::InputArchive& archive) override;

  const PowerSgdOptions& options() const { return options_; }
  // Steps completed (run for every bucket); compression runs once it is >= start_powerSGD_iter.
  std::int64_t step() const { return step_; }

  // Inspection (tests): bucket `bucket`'s state between steps, each a float32 vector over the
  // bucket's compressed tensors in bucket order, each tensor's matrix row-major. Undefined until
  // the bucket's first compressed step (or load), and error() stays undefined without error
  // feedback.
  // The errors M - P Q^T, n x m per tensor.
  const torch::Tensor& error(std::size_t bucket) const;
  // The last step's P (summed over the ranks, orthogonalized), n x r per tensor.
  const torch::Tensor& p(std::size_t bucket) const;
  // The last step's Q (averaged over the ranks, before the next step orthogonalizes it), m x r
  // per tensor.
  const torch::Tensor& q(std::size_t bucket) const;

 private:
  struct Bucket;
  void check_layout(Bucket& bucket, Communicator& comm) const;
  void compress(Bucket& bucket, const GradBucket& grads, Communicator& comm, TrafficStats& traffic);

  PowerSgdOptions options_;
  int world_size_ = 1;
  std::int64_t step_ = 0;
  std::vector<std::unique_ptr<Bucket>> buckets_;  // by bucket handle
};

}  // namespace dgc
