// One bucket of a DGC exchange, shared by the `dgc` and `dgc_hierarchical` hooks: which tensors
// are sparse at the ratio in force, the slot layout (include/dgc/wire.h), the dense fallback, and
// the steps between the collectives: compress into this rank's slot, pack the dense tensors,
// decode. The hooks make the collectives themselves, on the communicators they choose.
// Internal.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dgc/comm_hook.h"
#include "dgc/compressor.h"
#include "dgc/exchange_cost.h"
#include "dgc/hooks/dgc_hook.h"
#include "hooks/fused_dense.h"
#include "hooks/layout_check.h"
#include "hooks/sparse_message.h"
#include "sparse_slots.h"

namespace dgc::detail {

// The state of the reduce-scatter scheme (dgc_schemes.h).
struct ScatterState;

struct DgcBucket {
  DgcBucket();
  ~DgcBucket();

  std::vector<std::size_t> tensors;  // handles, which are the compressor's, in bucket order
  std::vector<std::int64_t> numels;
  // What follows is planned for the ratio in force (plan()).
  bool planned = false;
  bool fallback = false;
  // How the bucket travels (dgc_schemes.h); kDense is planned as kAllgather with every tensor
  // dense.
  DgcScheme scheme = DgcScheme::kAllgather;
  std::vector<std::size_t> sparse;  // positions in the bucket, in slot order
  std::vector<std::size_t> dense;   // positions in the bucket, in the fused buffer's order
  WireEncoding encoding = WireEncoding::kEncoded;
  bool hierarchical_allgather = false;  // DgcHookOptions'
  SparseSlotLayout layout;              // kRaw: the fixed-size slot
  SparseMessage message;  // kEncoded: the selections before encoding and after decoding
  std::vector<std::string> sparse_names;  // for error messages, in slot order
  // What one sender's sparse message is expected to weigh: the slot (kRaw), or the encoded
  // size expected at the plans' densities (kEncoded). Depends only on the plans.
  std::int64_t message_bytes = 0;
  FusedDense fused;
  bool layout_checked = false;
  // This rank's message; every sender's messages back to back, and their sizes.
  std::vector<std::uint8_t> send, received;
  std::vector<std::int64_t> received_bytes;
  FusedDense node_sum;                    // kHierarchical: every tensor, float32
  std::unique_ptr<ScatterState> scatter;  // kReduceScatter

  // Plans the bucket for the compressor's ratio; `senders` slots arrive per allgather (the ranks,
  // or the nodes), which the dense fallback weighs against the dense allreduce. `all_dense`
  // sends every tensor dense (not counted as a fallback).
  void plan(const Compressor& compressor, const DgcHookOptions& options, int senders,
            bool all_dense = false);
  // Every tensor dense from now until the next plan (the fallback, or the cost model's choice).
  void go_dense(const Compressor& compressor);
  // The bucket's sizes as the cost model weighs them.
  BucketBytes bytes(const Compressor& compressor) const;
  // The start of every step, after planning: checks once per layout that every rank of `comm`
  // shares it (collective), and counts a dense fallback in `traffic`.
  void begin_step(Communicator& comm, const std::string& hook_name, TrafficStats& traffic);
  // The layout every rank must share, as BucketLayout fields after the hook's identity.
  BucketLayout layout_record(std::int64_t hook_identity) const;
  static std::string describe(const BucketLayout& layout);

  // Compresses the sparse tensors' gradients (`grads`, in bucket order) into this rank's slot
  // (kRaw) or the message's selections (kEncoded).
  // `square_means`: per sparse tensor, the mean over senders of sum(g^2) for the global clipping
  // kinds (empty otherwise).
  void compress(Compressor& compressor, const std::vector<torch::Tensor>& grads,
                const std::vector<float>& square_means);
  // For the global clipping kinds (section 8), per sparse tensor the mean over `group`'s ranks of
  // its sum(g^2), one float per tensor in one small allreduce; empty for the other kinds.
  std::vector<float> square_means(const Compressor& compressor,
                                  const std::vector<torch::Tensor>& grads, ProcessGroup& group,
                                  TrafficStats& traffic) const;
  // Every sender's message of `group` in `received`: an allgather of the slots, or the
  // selections encoded and allgathered with their sizes.
  void gather(ProcessGroup& group, TrafficStats& traffic);
  // gather() over the world through the node leaders (DgcHookOptions::hierarchical_allgather):
  // `received` ends in world rank order, as gather() leaves it, on every rank.
  void gather_through_leaders(Communicator& comm, TrafficStats& traffic);
  // Encodes this rank's selections into `send` (kEncoded; kRaw compressed into it).
  void encode_message();
  // Copies what `group`'s rank 0 gathered to the group's other ranks (node-local traffic): the
  // senders' sizes first where they may differ (kEncoded), then their messages.
  void share(ProcessGroup& group, int senders, TrafficStats& traffic);
  // Copies the dense tensors' gradients into the fused buffer.
  void pack_dense(const std::vector<torch::Tensor>& grads);
  // Writes the averaged gradients: the `senders` messages summed and divided by `senders`; the
  // fused dense sums divided by `world_size`, then given the memory's momentum. `senders_are`
  // names a sender in errors ("rank", "node").
  void decode(Compressor& compressor, int senders, int world_size, const char* senders_are,
              const std::vector<torch::Tensor>& out);
  // decode()'s second half: the dense tensors only.
  void decode_dense(Compressor& compressor, int world_size, const std::vector<torch::Tensor>& out);
};

}  // namespace dgc::detail
