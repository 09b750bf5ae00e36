// The smallest comm hook, written against the public API only (docs/COMM_HOOKS.md walks through
// it): every rank's gradients of a bucket are gathered, then averaged in rank order. It is
// slower than an allreduce (each rank receives world_size copies) but its sums have one fixed
// order, so its result is known exactly; the hook suite checks it against the built-in hooks.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dgc/comm_hook.h"
#include "dgc/communicator.h"

namespace dgc::test {

class AllgatherMeanHook : public CommHook {
 public:
  std::string name() const override { return "allgather_mean"; }

  // Per-bucket state is indexed by the bucket's handle: here, its size in elements.
  void prepare(const std::vector<HookTensor>& tensors,
               const std::vector<std::vector<std::size_t>>& buckets, Communicator&) override {
    numel_.assign(buckets.size(), 0);
    for (std::size_t b = 0; b < buckets.size(); ++b) {
      for (const std::size_t t : buckets[b]) numel_[b] += tensors[t].numel;
    }
    gathered_.assign(buckets.size(), torch::Tensor());
  }

  // Communication thread: one collective for the whole bucket. Every rank derived numel_ from
  // the same parameters, so the allgather's sizes match (a real hook checks that the ranks
  // agree, as the built-in ones do).
  void run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) override {
    std::vector<torch::Tensor> flat;
    for (const auto& g : *bucket.grads) flat.push_back(g.reshape({-1}));
    const auto mine = torch::cat(flat);
    gathered_[bucket.index] = comm.allgather(mine).view({comm.size(), numel_[bucket.index]});
    traffic.bytes_sent += static_cast<std::int64_t>(mine.nbytes());
    traffic.bytes_received += static_cast<std::int64_t>(mine.nbytes()) * (comm.size() - 1);
  }

  // Caller's thread: the average, written where the optimizer asks for it.
  void finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) override {
    auto& gathered = gathered_[bucket.index];
    auto sum = gathered[0].clone();
    for (std::int64_t r = 1; r < gathered.size(0); ++r) sum += gathered[r];
    sum.mul_(1.0 / static_cast<double>(gathered.size(0)));
    std::int64_t offset = 0;
    for (const auto& o : out) {
      o.view({-1}).copy_(sum.narrow(0, offset, o.numel()));
      offset += o.numel();
    }
    gathered = torch::Tensor();  // the step's gradients are not kept past finish()
  }

 private:
  std::vector<std::int64_t> numel_;      // by bucket handle
  std::vector<torch::Tensor> gathered_;  // by bucket handle, between run() and finish()
};

}  // namespace dgc::test
