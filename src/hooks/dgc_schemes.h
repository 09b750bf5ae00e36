// The ways a planned DGC bucket travels, one function pair per scheme (DgcScheme,
// include/dgc/exchange_cost.h): run() on the communication thread after DgcBucket::begin_step,
// finish() on the caller's thread. The DGC hooks share them: `dgc`, `dgc_hierarchical` and
// `dgc_reduce_scatter` with one scheme for every bucket, `dgc_auto` with the cost model's choice
// per bucket. kDense is kAllgather with every tensor dense (DgcBucket::go_dense). Internal.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/compressor.h"
#include "hooks/dgc_bucket.h"

namespace dgc::detail {

// What the schemes need to know besides the bucket.
struct SchemeContext {
  Compressor& compressor;
  int world_size = 1;
  int rank = 0;
  int node_size = 1;  // ranks per node (the hierarchical scheme needs uniform nodes)
  int node_count = 1;
};

// The reduce-scatter scheme's buffers, and what the owners kept.
struct ScatterEntry {
  std::int64_t index;
  float value;
};
struct ScatterState {
  std::vector<std::uint8_t> scatter_send, scatter_received, kept_send, kept_received;
  std::vector<std::int64_t> scatter_send_bytes, scatter_received_bytes, kept_received_bytes;
  std::vector<std::int64_t> relative;  // one region's indices, relative to its start
  std::vector<std::int64_t> block_indices;
  std::vector<float> block_values;
  std::vector<ScatterEntry> entries;
  // Per sparse tensor, once finish() decoded them: the positions the owners kept, ascending.
  std::vector<std::vector<ScatterEntry>> applied;
};

// Whether the bucket's allgathers of sparse messages go through the node leaders.
inline bool gathers_through_leaders(const DgcBucket& b, const SchemeContext& c) {
  return dgc::gathers_through_leaders(b.hierarchical_allgather,
                                      Topology{c.world_size, c.node_count});
}

// Dispatch on the bucket's scheme.
void run_scheme(DgcBucket& b, const SchemeContext& c, const std::vector<torch::Tensor>& grads,
                Communicator& comm, TrafficStats& traffic);
void finish_scheme(DgcBucket& b, const SchemeContext& c, const std::vector<torch::Tensor>& out);

void run_allgather(DgcBucket& b, const SchemeContext& c, const std::vector<torch::Tensor>& grads,
                   Communicator& comm, TrafficStats& traffic);
void finish_allgather(DgcBucket& b, const SchemeContext& c, const std::vector<torch::Tensor>& out);

void run_hierarchical(DgcBucket& b, const SchemeContext& c, const std::vector<torch::Tensor>& grads,
                      Communicator& comm, TrafficStats& traffic);
void finish_hierarchical(DgcBucket& b, const SchemeContext& c,
                         const std::vector<torch::Tensor>& out);

void run_reduce_scatter(DgcBucket& b, const SchemeContext& c,
                        const std::vector<torch::Tensor>& grads, Communicator& comm,
                        TrafficStats& traffic);
void finish_reduce_scatter(DgcBucket& b, const SchemeContext& c,
                           const std::vector<torch::Tensor>& out);

// When a bucket turns hierarchical, every rank of a node must hold the same DGC memory: the
// node's mean of each sparse tensor's momentum and velocity (the memory of the node's mean
// gradient, which keeps the node's sum of residuals). Collective over the node.
void average_memory_in_node(DgcBucket& b, Compressor& compressor, ProcessGroup& node);

}  // namespace dgc::detail
