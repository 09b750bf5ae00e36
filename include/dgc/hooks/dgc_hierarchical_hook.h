// `dgc_hierarchical`: DGC between machines, dense inside them (the exchange the original's README
// asks for). Per bucket and step, on the communication thread:
//   1. the node's ranks sum their gradients with one dense allreduce inside the node (shared
//      memory; Communicator::node());
//   2. every rank of the node runs DGC on the node's mean gradient (the sum over its ranks
//      divided by their number): the same input, the same memory, the same sampling stream, so
//      every rank of a node selects the same entries and keeps the same DGC memory (checkpoints
//      stay per rank);
//   3. the node leaders (node rank 0) exchange the selections with one sparse allgather between
//      them (Communicator::cross_node()), and the dense tensors' node sums with one allreduce;
//   4. each leader broadcasts what it received inside its node.
// finish() sums the nodes' selections and divides by the number of nodes; the dense tensors are
// the sum over every rank divided by the world's size, then the memory's momentum, as in `dgc`.
//
// The limits: with one rank per node it is `dgc` (bitwise: the same collectives over the same
// ranks); with a single node nothing needs compressing, so every tensor goes dense, as in `dgc`
// at a ratio >= 1: the dense average with the memory's momentum. The dense fallback weighs the
// nodes' slots against the dense allreduce between the nodes. Every node must have the same
// number of ranks (a dgc::Error otherwise): the nodes' means are averaged with equal weights.
// Nodes are the machines (Open MPI's shared-memory split), or emulated ones
// (CommunicatorOptions::emulated_node_size, DGC_EMULATED_NODE_SIZE).
#pragma once

#include <string>
#include <vector>

#include "dgc/hooks/dgc_hook.h"

namespace dgc {

class DGC_EXPORT DgcHierarchicalHook : public DgcHook {
 public:
  // `compressor`: fresh, nothing registered.
  explicit DgcHierarchicalHook(Compressor compressor, DgcHookOptions options = {});

  std::string name() const override { return "dgc_hierarchical"; }
  // Uneven nodes are a dgc::Error.
  void prepare(const std::vector<HookTensor>& tensors,
               const std::vector<std::vector<std::size_t>>& buckets, Communicator& comm) override;
};

}  // namespace dgc
