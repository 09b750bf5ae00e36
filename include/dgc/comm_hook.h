// dgc::CommHook: what happens to one bucket of gradients in a DistributedOptimizer (the shape of
// PyTorch c10d's communication hooks). The optimizer knows parameters and buckets; a hook knows
// how to turn the ranks' local gradients of one bucket into the averaged gradients.
//
// The life of a hook, driven by the DistributedOptimizer that owns it:
//   1. prepare(): once, at construction, with every exchanged tensor in registration order and
//      the buckets. A tensor's handle is its position in that list, a bucket's its position in
//      the bucket list: both are fixed for the hook's life, so per-tensor and per-bucket state
//      lives in vectors indexed by them, never looked up by name in a step.
//   2. Each step, for every bucket in bucket order: run() on the communication thread as soon as
//      the bucket's gradients are complete (during backward): compress, pack, collectives. Its
//      results stay in the hook. Then finish() on the caller's thread, after every run() of the
//      step completed: decode into the averaged gradients.
//   3. Between steps: set_epoch(), save() and load() (checkpoints), from the caller's thread.
//
// Contract: every rank's hook receives the same calls in the same order (the optimizer makes
// sure of it), so the collectives a hook makes in run() match up across ranks as long as the
// hook's own decisions depend only on what every rank shares (the bucket, the epoch, the
// settings, the world's size): never on local data, unless the ranks agree on it first by a
// collective. Whatever a hook receives from a peer is untrusted: a size or an index read from a
// message is checked before it is used to write. A hook is used by one thread at a time (the
// communication thread in run(), the caller's otherwise; the optimizer orders them).
//
// Writing a hook: docs/COMM_HOOKS.md walks through the smallest one.
#pragma once

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/export.h"

namespace dgc {

// What one step moved through the collectives, in payload bytes (the MPI library's algorithm adds
// its own multiple on the wire).
struct TrafficStats {
  // Bytes this rank handed to collectives: its part of each allgather, its buffer of each
  // allreduce (including small statistics such as the clipping's).
  std::int64_t bytes_sent = 0;
  // Bytes handed back: the other ranks' parts of each allgather, the reduced buffer of each
  // allreduce.
  std::int64_t bytes_received = 0;
  // The step's gradients as dense float32: bytes_sent of the uncompressed exchange.
  std::int64_t dense_bytes = 0;
  // Buckets that a sparse hook sent dense this step because their sparse message would have been
  // larger than their dense allreduce (DgcHookOptions::dense_fallback).
  std::int64_t dense_fallback_buckets = 0;
  // Of bytes_sent + bytes_received, what stayed inside a node (the dense sum and the broadcasts
  // of a hierarchical exchange): shared memory on a real machine, not the network.
  std::int64_t intra_node_bytes = 0;

  // Counts what a collective made of several (Communicator::allgatherv_through_leaders) moved.
  void add(const CollectiveBytes& moved) {
    bytes_sent += moved.sent;
    bytes_received += moved.received;
    intra_node_bytes += moved.intra_node;
  }
};

// One exchanged tensor, as registered.
struct HookTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::int64_t numel = 0;
};

// One bucket of one step, as run() and finish() see it.
struct GradBucket {
  // The bucket's handle (its position in prepare()'s bucket list).
  std::size_t index = 0;
  // The handles of its tensors, in bucket order (fixed at prepare()).
  const std::vector<std::size_t>* tensors = nullptr;
  // This step's local gradients in bucket order: float32, contiguous, numel elements each. run()
  // may read them; they are not the parameters' .grad, and the hook must not keep them past
  // finish().
  const std::vector<torch::Tensor>* grads = nullptr;
};

class DGC_EXPORT CommHook {
 public:
  virtual ~CommHook() = default;

  // The hook's name ("allreduce", "dgc", ...): logs, and the key of its checkpoint state.
  virtual std::string name() const = 0;

  // Once, before any step. `buckets` lists each bucket's tensor handles in bucket order. May
  // throw dgc::Error (a tensor the hook cannot handle); may not communicate.
  virtual void prepare(const std::vector<HookTensor>& tensors,
                       const std::vector<std::vector<std::size_t>>& buckets,
                       Communicator& comm) = 0;

  // On the communication thread: the bucket's collectives. Adds what it moved to `traffic`.
  // Throws dgc::Error on failure (see DistributedOptions::failure_policy).
  virtual void run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) = 0;

  // On the caller's thread, after run() of this bucket completed: writes the averaged gradient
  // of the bucket's j-th tensor into out[j] (float32, contiguous, numel elements; its previous
  // content is garbage).
  virtual void finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) = 0;

  // The epoch about to start (schedules such as DGC's sparsity warm-up). Returns true when
  // something the hook logs changed. Called between steps, identically on every rank.
  virtual bool set_epoch(std::int64_t epoch) {
    (void)epoch;
    return false;
  }

  // Whether the hook applies the optimizer's momentum itself (DGC's momentum correction): the
  // inner optimizer must then have none of its own.
  virtual bool applies_momentum() const { return false; }

  // Whether save() writes anything: stateless hooks neither save nor load, so checkpoints of the
  // dense baseline stay what they were.
  virtual bool has_state() const { return false; }
  // This rank's state, for exact resume (each rank saves its own).
  virtual void save(torch::serialize::OutputArchive& archive) const { (void)archive; }
  // Loads what save() wrote; a missing or mismatched entry is a dgc::Error naming it, and the
  // state is left as it was.
  virtual void load(torch::serialize::InputArchive& archive) { (void)archive; }
};

}  // namespace dgc
