// The cost model that picks how each bucket of a DGC exchange travels (`dgc_auto`,
// include/dgc/hooks/dgc_auto_hook.h; docs/SPARSE_EXCHANGES.md, "The choice per bucket").
//
// Each link is a latency and a bandwidth (the alpha-beta model). The ranks of one node talk over
// the node link (shared memory), everything else over the network link; a flat collective over
// ranks of several nodes runs at the network's speed. Per scheme, for a bucket of P ranks in N
// nodes of s ranks, with the bucket's sizes in bytes:
//   ring allreduce of B over p ranks:  2 (p - 1) alpha + 2 (p - 1) / p * B / beta
//   allgather of m per rank:           (p - 1) alpha + (p - 1) m / beta, and as much latency
//                                      again for the sizes when messages are encoded
//   dense:           allreduce of every tensor (value type) over P
//   allgather:       allgather of the expected message over P, allreduce of the 1-D tensors;
//                    through the leaders (DgcHookOptions::hierarchical_allgather, several nodes
//                    of s > 1 ranks): an allgather of it over s on the node link, of s of them
//                    over N on the network, a broadcast of P of them over s on the node link
//   hierarchical:    allreduce of every tensor (float32) over s on the node link; allgather of the
//                    message over N and allreduce of the 1-D tensors over N on the network; a
//                    broadcast of N messages and the 1-D tensors over s on the node link
//                    (log2 s steps)
//   reduce_scatter:  an alltoallv of the message over P (sizes and data: 2 (P - 1) alpha +
//                    (P - 1) / P * m / beta), an allgatherv of the kept sums (message / P per
//                    rank; through the leaders as the allgather's messages where
//                    hierarchical_allgather applies), an allreduce of the 1-D tensors
// A collective of no bytes costs nothing (the hooks skip it). The expected message is the plans'
// (full capacity, indices spread evenly), never the data's,
// so every rank predicts the same times and takes the same choice. Compression's own time is
// not in the model (it is the same for every sparse scheme, and `dense` skips it).
#pragma once

#include <cstdint>

#include "dgc/export.h"
#include "dgc/wire.h"

namespace dgc {

class Communicator;

// One way a DGC bucket travels.
enum class DgcScheme {
  kDense,          // one allreduce of every tensor, as at a ratio >= 1
  kAllgather,      // `dgc`: every rank's selection to every rank
  kHierarchical,   // `dgc_hierarchical`: dense inside the node, the allgather between nodes
  kReduceScatter,  // `dgc_reduce_scatter`: the regions' owners reduce, then an allgather
};
DGC_EXPORT const char* scheme_name(DgcScheme scheme);

struct LinkCost {
  double latency_seconds = 0;   // alpha, per message
  double bytes_per_second = 0;  // beta
};

struct ExchangeCosts {
  LinkCost network;  // between nodes (and between any ranks of a single-node world)
  LinkCost node;     // inside a node
};

// One bucket as the model sees it: bytes, not tensors.
struct BucketBytes {
  std::int64_t dense = 0;     // every tensor in the wire's value type
  std::int64_t node_sum = 0;  // every tensor in float32 (the hierarchical node sum)
  std::int64_t message = 0;   // one sender's expected sparse message (0: nothing sparse)
  std::int64_t one_dim = 0;   // the tensors that travel dense in every sparse scheme
};

struct Topology {
  int world_size = 1;
  int node_count = 1;  // nodes of world_size / node_count ranks each
};

// Whether the allgathers of sparse messages (the allgather scheme's messages, the reduce-scatter's
// kept sums) go through the node leaders: asked for (hierarchical_allgather), and that spares a
// host link (several nodes, not all of one rank). The hooks and predict_seconds both ask this.
inline bool gathers_through_leaders(bool hierarchical_allgather, const Topology& topology) {
  return hierarchical_allgather && topology.node_count > 1 &&
         topology.node_count < topology.world_size;
}

// The predicted seconds of one bucket's collectives under `scheme`.
DGC_EXPORT double predict_seconds(DgcScheme scheme, const BucketBytes& bucket,
                                  const Topology& topology, const ExchangeCosts& costs,
                                  WireEncoding encoding, bool hierarchical_allgather = false);

// Fits both links from timed allreduces of 8 bytes and of 4 MiB (the model's own allreduce
// formula, two sizes, two unknowns): the network link over cross_node() (or the world, when there
// is one node), the node link over node(). The slowest rank's figures, so every rank gets the
// same result. Collective; takes a few hundred milliseconds on a fast link, longer on a slow one.
DGC_EXPORT ExchangeCosts measure_exchange_costs(Communicator& comm);

}  // namespace dgc
