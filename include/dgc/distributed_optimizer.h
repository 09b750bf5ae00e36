// Horovod-style data-parallel training over MPI: a comm hook (include/dgc/comm_hook.h) decides
// what travels, DGC or a dense baseline (ALGORITHM.md sections 5 and 8, DESIGN.md "How it must
// perform").
//
// Wraps a model's named parameters and an inner optimizer: dgc::DGCSGD under a hook that applies
// the momentum itself (DGC's memory), any torch::optim::Optimizer otherwise. A hook on every
// parameter collects its gradient during backward; once a parameter has had
// backward_passes_per_step gradients it is ready. Parameters are grouped into buckets fixed at
// construction, in reverse registration order (the order backward produces gradients); a bucket
// is launched as soon as all its parameters are ready and every earlier bucket is launched, so
// the order is the same on every rank without any negotiation. One communication thread runs the
// comm hook's run() for each bucket and so makes every MPI call of the step; it computes on
// itself alone (one intra-op thread), beside the caller's threads (docs/DISTRIBUTED.md).
// synchronize() waits for every bucket and has the hook write the averaged gradients into the
// parameters' .grad; step() is synchronize() (unless the caller just did it) followed by the
// inner optimizer's step.
//
// The gradient exchanged for a parameter is the sum of its gradients over the step's backward
// passes (scale the loss by 1 / backward_passes_per_step to average them, as with Horovod);
// whatever .grad held before is replaced. A parameter that received no gradient contributes
// zeros.
//
// Contract: every rank constructs it with the same parameters in the same order, the same hook
// and the same settings, runs the same number of backward passes per step and calls
// synchronize(), step(), set_epoch() and the broadcasts together. Not thread-safe: use it from
// the thread that runs backward. A failure on the communication thread (a NaN reaching this
// rank's DGC memory, an MPI error, a malformed message, ranks that disagree on a bucket's layout)
// is handled as DistributedOptions::failure_policy says. A non-finite averaged gradient
// (DistributedOptions::check_finite) is thrown by synchronize() on every rank alike.
//
// Ranks are not trusted to agree: a collective whose size a rank derives locally (a bucket's
// buffers, a broadcast's tensors) is preceded by a small exchange of the sizes, once per layout,
// and a mismatch is one clear error instead of a write out of bounds.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dgc/comm_hook.h"
#include "dgc/communicator.h"
#include "dgc/export.h"

namespace dgc {

// What happens when the communication thread fails (an MPI error, a NaN in this rank's DGC memory,
// a malformed message from a peer, ranks that disagree on a layout).
enum class FailurePolicy {
  // With more than one rank, end the whole job at once through Communicator::abort with the
  // failure's message: the other ranks are waiting in a collective for this one and would wait
  // forever. In a world of one, synchronize() throws it like kThrow. Right for training jobs.
  kAbortJob,
  // synchronize() throws the failure as a dgc::Error on this rank only; the caller decides. The
  // other ranks may still be blocked in a collective this rank will never join (the stall check
  // names it): for callers that end the job themselves, and for tests.
  kThrow,
};

struct DistributedOptions {
  // Backward passes whose gradients are summed locally before one exchange [1].
  int backward_passes_per_step = 1;
  // Parameters per bucket, in bytes of float32 gradient [25 MiB, PyTorch DDP's bucket_cap_mb].
  // A parameter larger than this gets a bucket of its own.
  std::int64_t bucket_bytes = 25 << 20;
  // Launch buckets from the gradient hooks while backward still runs [true]; false launches
  // them all in synchronize() (communicate after backward, the slower baseline).
  bool overlap = true;
  // synchronize() checks every averaged gradient for NaN and infinity and throws a dgc::Error
  // naming the first bad parameter, on every rank alike (they all hold the same averages), before
  // step() could apply it [true]. One extra read of the gradients per step.
  bool check_finite = true;
  FailurePolicy failure_policy = FailurePolicy::kAbortJob;
  // The cores the communication thread may run on, as Horovod's HOROVOD_THREAD_AFFINITY: one
  // core per rank of this machine (indexed by Communicator::local_rank()), or one core for all of
  // them [empty: wherever the operating system puts it]. A core of its own keeps the blocking
  // collectives' polling off the training threads' cores. A list of another length, or a core
  // that does not exist or that this process may not use, is a dgc::Error at construction.
  std::vector<int> comm_thread_cpus;
};

class DGC_EXPORT DistributedOptimizer {
 public:
  using NamedParameters = std::vector<std::pair<std::string, torch::Tensor>>;

  // The dense baseline: every gradient is allreduce-averaged in float32 (AllreduceHook).
  DistributedOptimizer(Communicator& comm, torch::optim::Optimizer& optimizer,
                       NamedParameters named_parameters, DistributedOptions options = {});
  // Buckets exchanged by `hook` (for example std::make_unique<DgcHook>(Compressor(...))). When the
  // hook applies the momentum itself, a torch::optim::SGD with momentum as `optimizer` is a
  // dgc::Error: it would be applied twice (use dgc::DGCSGD).
  DistributedOptimizer(Communicator& comm, torch::optim::Optimizer& optimizer,
                       NamedParameters named_parameters, std::unique_ptr<CommHook> hook,
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

  // Tells the hook the epoch about to start (DGC's sparsity warm-up; the dense baselines ignore
  // it). Returns what the hook's set_epoch returns (DGC: whether the compress ratio changed).
  bool set_epoch(std::int64_t epoch);

  // Copies the root's values into every rank's registered parameters / given tensors (for
  // example the model's buffers).
  void broadcast_parameters(int root = 0);
  void broadcast_tensors(const std::vector<torch::Tensor>& tensors, int root = 0);
  // Copies the root's inner optimizer state and options (learning rates included) to every rank.
  void broadcast_optimizer_state(int root = 0);

  // The traffic of the last synchronize().
  const TrafficStats& last_step_traffic() const;
  // The hook (its state for checkpoints, between steps; dynamic_cast for a hook's own API).
  CommHook& hook();
  Communicator& communicator();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dgc
