// The hierarchical scheme (`dgc_hierarchical`, include/dgc/hooks/dgc_hierarchical_hook.h).
#include "hooks/dgc_schemes.h"

namespace dgc::detail {

void run_hierarchical(DgcBucket& b, const SchemeContext& c, const std::vector<torch::Tensor>& grads,
                      Communicator& comm, TrafficStats& traffic) {
  // 1. The node's sum, every tensor of the bucket in one float32 buffer.
  FusedDense& node_sum = b.node_sum;
  for (std::size_t j = 0; j < grads.size(); ++j) node_sum.pack(j, grads[j]);
  ProcessGroup& node = comm.node();
  if (node.size() > 1) {
    node_sum.allreduce(node, traffic);
    traffic.intra_node_bytes += 2 * node_sum.bytes();
  }
  std::vector<torch::Tensor> sums(grads.size());
  for (std::size_t j = 0; j < grads.size(); ++j) sums[j] = node_sum.slice(j);

  const bool leader = node.rank() == 0;
  if (!b.sparse.empty()) {
    // 2. DGC on the node's mean, alike on every rank of the node.
    std::vector<torch::Tensor> means = sums;
    if (c.node_size > 1) {
      for (const std::size_t j : b.sparse) means[j] = sums[j] * (1.0 / c.node_size);
    }
    // Section 8 with the nodes as the workers: the world's average of values identical within
    // each node is the mean over the nodes (they all have node_size ranks).
    const auto square_means = b.square_means(c.compressor, means, comm, traffic);
    b.compress(c.compressor, means, square_means);
    // 3. The leaders' sparse allgather; 4. the node's copy of it.
    if (leader) b.gather(comm.cross_node(), traffic);
    if (node.size() > 1) b.share(node, c.node_count, traffic);
  }
  if (!b.dense.empty()) {
    b.pack_dense(sums);
    if (leader) b.fused.allreduce(comm.cross_node(), traffic);
    if (node.size() > 1) b.fused.broadcast(node, 0, traffic);
  }
}

void finish_hierarchical(DgcBucket& b, const SchemeContext& c,
                         const std::vector<torch::Tensor>& out) {
  b.decode(c.compressor, c.node_count, c.world_size, "node", out);
}

}  // namespace dgc::detail
