// One bucket's exchange: all its compressed tensors in one allgather with fixed-size slots
// (sparse_slots.h), all its dense tensors in one allreduce (DESIGN.md "How it must perform").
// Internal to DistributedOptimizer.
//
// Every rank derives the slot size and the dense buffer's length from its own compressor (the
// plans follow the compress ratio, which follows the epoch): ranks that disagree would make the
// allgather write past its receive buffer. So the first launch after construction or after
// expect_new_layout() (every set_epoch) first allgathers each rank's layout and compares them:
// a difference is a dgc::Error naming the ranks and their layouts, before any payload moves.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/compressor.h"
#include "dgc/distributed_optimizer.h"
#include "sparse_slots.h"

namespace dgc::detail {

struct BucketTensor {
  std::string name;
  std::int64_t numel = 0;
  torch::Tensor grad;  // this step's local gradient (float32, numel elements)
};

class BucketExchange {
 public:
  // On the communication thread: compresses, packs and exchanges `tensors`; the results stay in
  // this object until finish(). `compressor` is null for the dense baseline.
  void launch(std::vector<BucketTensor>& tensors, Communicator& comm, Compressor* compressor,
              DenseCompression dense_compression, TrafficStats& traffic);
  // After launch() completed: writes every tensor's averaged gradient into out[j] (float32,
  // contiguous, numel elements); under DGC the dense tensors get the memory's momentum.
  void finish(const std::vector<BucketTensor>& tensors, Compressor* compressor,
              std::vector<torch::Tensor>& out);
  // The layout may change (a new epoch): the next launch checks again that the ranks agree.
  // Collective in effect: every rank calls it at the same point (set_epoch).
  void expect_new_layout() { layout_checked_ = false; }

 private:
  struct DenseSlot {
    std::size_t tensor;
    std::int64_t offset;  // elements into dense_
  };
  void plan_layout(const std::vector<BucketTensor>& tensors, const Compressor* compressor,
                   DenseCompression dense_compression);
  // Compares this rank's layout with every other rank's (one small allgather).
  void check_layout_agrees(Communicator& comm, std::int64_t dense_numel) const;
  void exchange_sparse(std::vector<BucketTensor>& tensors, Communicator& comm,
                       Compressor& compressor, TrafficStats& traffic);
  void exchange_dense(const std::vector<BucketTensor>& tensors, Communicator& comm,
                      TrafficStats& traffic);

  std::vector<std::size_t> sparse_;  // positions in the bucket, in slot order
  SparseSlotLayout layout_;
  std::vector<DenseSlot> dense_slots_;
  int world_size_ = 1;
  bool layout_checked_ = false;
  std::vector<std::uint8_t> send_, received_;  // this rank's slot; every rank's slots
  torch::Tensor dense_;                        // fused dense gradients, float32 or float16
};

}  // namespace dgc::detail
