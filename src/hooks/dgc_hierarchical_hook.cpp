#include "dgc/hooks/dgc_hierarchical_hook.h"

#include "dgc/error.h"
#include "hooks/dgc_bucket.h"

namespace dgc {

DgcHierarchicalHook::DgcHierarchicalHook(Compressor compressor, DgcHookOptions options)
    : DgcHook(std::move(compressor), options) {}

DgcHierarchicalHook::~DgcHierarchicalHook() = default;

void DgcHierarchicalHook::prepare(const std::vector<HookTensor>& tensors,
                                  const std::vector<std::vector<std::size_t>>& buckets,
                                  Communicator& comm) {
  if (!comm.nodes_uniform()) {
    std::string sizes;
    for (const int size : comm.node_sizes())
      sizes += (sizes.empty() ? "" : ", ") + std::to_string(size);
    DGC_FAIL("dgc_hierarchical needs the same number of ranks on every node, got ", sizes,
             " (start as many ranks on every host, or use the flat dgc exchange)");
  }
  DgcHook::prepare(tensors, buckets, comm);
  node_size_ = comm.node().size();
  node_count_ = comm.node_count();
  node_sums_.assign(buckets.size(), detail::FusedDense());
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    node_sums_[b].plan(buckets_[b]->numels, torch::kFloat);
  }
}

void DgcHierarchicalHook::run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) {
  detail::DgcBucket& b = *buckets_[bucket.index];
  // On a single node nothing leaves the machine: every tensor goes dense.
  b.begin_step(compressor_, options_, node_count_, /*all_dense=*/node_count_ == 1, comm, name(),
               traffic);

  // 1. The node's sum, every tensor of the bucket in one float32 buffer.
  detail::FusedDense& node_sum = node_sums_[bucket.index];
  const auto& grads = *bucket.grads;
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
    if (node_size_ > 1) {
      for (const std::size_t j : b.sparse) means[j] = sums[j] * (1.0 / node_size_);
    }
    // Section 8 with the nodes as the workers: the world's average of values identical within
    // each node is the mean over the nodes (they all have node_size_ ranks).
    const auto square_means = b.square_means(compressor_, means, comm, traffic);
    b.compress(compressor_, means, square_means);
    // 3. The leaders' sparse allgather; 4. the node's copy of it.
    if (leader) b.gather(comm.cross_node(), traffic);
    if (node.size() > 1) b.share(node, node_count_, traffic);
  }
  if (!b.dense.empty()) {
    b.pack_dense(sums);
    if (leader) b.fused.allreduce(comm.cross_node(), traffic);
    if (node.size() > 1) b.fused.broadcast(node, 0, traffic);
  }
}

void DgcHierarchicalHook::finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) {
  buckets_[bucket.index]->decode(compressor_, node_count_, world_size_, "node", out);
}

}  // namespace dgc
