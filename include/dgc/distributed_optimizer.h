// Horovod-style data-parallel training over MPI, with Deep Gradient Compression or the dense
// baseline (ALGORITHM.md sections 5 and 8, DESIGN.md "How it must perform").
//
// Wraps a model's named parameters and an inner optimizer: dgc::DGCSGD under DGC (the momentum
// lives in the compressor's memory), any torch::optim::Optimizer for the dense baseline. A hook
// on every parameter collects its gradient during backward; once a parameter has had
// backward_passes_per_step gradients it is ready. Parameters are grouped into buckets fixed at
// construction, in reverse registration order (the order backward produces gradients); a bucket
// is launched as soon as all its parameters are ready and every earlier bucket is launched, so
// the order is the same on every rank without any negotiation. One communication thread makes
// every MPI call: per bucket one allgather carrying all its compressed tensors in fixed-size
// slots, and one allreduce carrying all its dense tensors. It compresses and packs on itself
// alone (one intra-op thread), beside the caller's threads (docs/DISTRIBUTED.md). synchronize()
// waits for every bucket and writes the averaged gradients into the parameters' .grad; step() is
// synchronize() (unless the caller just did it) followed by the inner optimizer's step.
//
// The gradient exchanged for a parameter is the sum of its gradients over the step's backward
// passes (scale the loss by 1 / backward_passes_per_step to average them, as with Horovod);
// whatever .grad held before is replaced. A parameter that received no gradient contributes
// zeros.
//
// Contract: every rank constructs it with the same parameters in the same order and the same
// settings, runs the same number of backward passes per step and calls synchronize(), step(),
// set_epoch() and the broadcasts together. Not thread-safe: use it from the thread that runs
// backward. A failure on the communication thread (a NaN reaching this rank's DGC memory, an MPI
// error, a malformed message, ranks that disagree on a bucket's layout) ends the whole job
// through Communicator::abort when the world has more than one rank (the others would wait
// forever); in a world of one synchronize() throws it. A non-finite averaged gradient
// (DistributedOptions::check_finite) is thrown by synchronize() on every rank alike.
//
// Ranks are not trusted to agree: a collective whose size a rank derives locally (a bucket's
// slots and dense buffer, a broadcast's tensors) is preceded by a small exchange of the sizes,
// once per layout, and a mismatch is one clear error instead of a write out of bounds.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/compressor.h"
#include "dgc/export.h"

namespace dgc {

// How the dense path's tensors travel (Horovod's Compression.none / Compression.fp16). Under DGC
// the compressor's fp16_values decides for its dense tensors too.
enum class DenseCompression { kNone, kFp16 };

struct DistributedOptions {
  // Backward passes whose gradients are summed locally before one exchange [1].
  int backward_passes_per_step = 1;
  // Parameters per bucket, in bytes of float32 gradient [25 MiB, PyTorch DDP's bucket_cap_mb].
  // A parameter larger than this gets a bucket of its own.
  std::int64_t bucket_bytes = 25 << 20;
  // Launch buckets from the gradient hooks while backward still runs [true]; false launches
  // them all in synchronize() (communicate after backward, the slower baseline).
  bool overlap = true;
  DenseCompression dense_compression = DenseCompression::kNone;
  // synchronize() checks every averaged gradient for NaN and infinity and throws a dgc::Error
  // naming the first bad parameter, on every rank alike (they all hold the same averages), before
  // step() could apply it [true]. One extra read of the gradients per step.
  bool check_finite = true;
};

// What one step moved through the collectives, in payload bytes (the algorithm of the MPI
// library adds its own multiple on the wire).
struct TrafficStats {
  // Bytes this rank handed to collectives: its slot of each allgather, its buffer of each
  // allreduce (including the clipping statistics).
  std::int64_t bytes_sent = 0;
  // Bytes handed back from the other ranks: their slots of each allgather, the reduced buffer of
  // each allreduce.
  std::int64_t bytes_received = 0;
  // The step's gradients as dense float32: bytes_sent of the uncompressed exchange.
  std::int64_t dense_bytes = 0;
};

class DGC_EXPORT DistributedOptimizer {
 public:
  using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

  // The dense baseline: every gradient is allreduce-averaged.
  DistributedOptimizer(Communicator& comm, torch::optim::Optimizer& optimizer,
                       NamedParameters named_parameters, DistributedOptions options = {});
  // DGC: `compressor` (fresh, nothing registered) receives every parameter. A torch::optim::SGD
  // with momentum as `optimizer` is a dgc::Error: the compressor's memory applies the momentum,
  // and it would be applied twice (use dgc::DGCSGD).
  DistributedOptimizer(Communicator& comm, torch::optim::Optimizer& optimizer,
                       NamedParameters named_parameters, Compressor compressor,
                       DistributedOptions options = {});
  // Removes the hooks; waits for launched buckets.
  ~DistributedOptimizer();
  DistributedOptimizer(const DistributedOptimizer&) = delete;
  DistributedOptimizer& operator=(const DistributedOptimizer&) = delete;

  // Exchanges whatever has not been launched yet, waits for every bucket and writes the averaged
  // gradients into .grad.
  void synchronize();
  // synchronize() unless it already ran since the last backward pass (so that the Horovod
  // pattern synchronize(), clip .grad, step() exchanges once), then the inner optimizer's step.
  void step();
  // The inner optimizer's zero_grad (the exchange replaces .grad anyway).
  void zero_grad();

  // Sparsity warm-up for `epoch` (DGC; the dense baseline ignores it). Returns true when the
  // compress ratio changed.
  bool set_epoch(std::int64_t epoch);

  // Copies the root's values into every rank's registered parameters / given tensors (for
  // example the model's buffers).
  void broadcast_parameters(int root = 0);
  void broadcast_tensors(const std::vector<torch::Tensor>& tensors, int root = 0);
  // Copies the root's inner optimizer state and options (learning rates included) to every rank.
  void broadcast_optimizer_state(int root = 0);

  // The traffic of the last synchronize().
  const TrafficStats& last_step_traffic() const;
  // The compressor under DGC (for its ratio, plans and save/load between steps); nullptr for the
  // dense baseline.
  Compressor* compressor();
  Communicator& communicator();

 private:
  struct State;
  DistributedOptimizer(Communicator& comm, torch::optim::Optimizer& optimizer,
                       NamedParameters named_parameters, std::unique_ptr<Compressor> compressor,
                       DistributedOptions options);
  std::unique_ptr<State> state_;
};

}  // namespace dgc
