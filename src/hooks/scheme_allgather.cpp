// The allgather scheme (`dgc`), the dispatch, and the node average of the memory.
#include "dgc/error.h"
#include "hooks/dgc_schemes.h"

namespace dgc::detail {

void run_scheme(DgcBucket& b, const SchemeContext& c, const std::vector<torch::Tensor>& grads,
                Communicator& comm, TrafficStats& traffic) {
  switch (b.scheme) {
    case DgcScheme::kDense:
    case DgcScheme::kAllgather:
      return run_allgather(b, c, grads, comm, traffic);
    case DgcScheme::kHierarchical:
      return run_hierarchical(b, c, grads, comm, traffic);
    case DgcScheme::kReduceScatter:
      return run_reduce_scatter(b, c, grads, comm, traffic);
  }
}

void finish_scheme(DgcBucket& b, const SchemeContext& c, const std::vector<torch::Tensor>& out) {
  switch (b.scheme) {
    case DgcScheme::kDense:
    case DgcScheme::kAllgather:
      return finish_allgather(b, c, out);
    case DgcScheme::kHierarchical:
      return finish_hierarchical(b, c, out);
    case DgcScheme::kReduceScatter:
      return finish_reduce_scatter(b, c, out);
  }
}

void run_allgather(DgcBucket& b, const SchemeContext& c, const std::vector<torch::Tensor>& grads,
                   Communicator& comm, TrafficStats& traffic) {
  if (!b.sparse.empty()) {
    // Section 8: the statistic is the mean over ranks of sum(g^2).
    const auto square_means = b.square_means(c.compressor, grads, comm, traffic);
    b.compress(c.compressor, grads, square_means);
    if (gathers_through_leaders(b, c)) {
      b.gather_through_leaders(comm, traffic);
    } else {
      b.gather(comm, traffic);
    }
  }
  if (!b.dense.empty()) {
    b.pack_dense(grads);
    b.fused.allreduce(comm, traffic);
  }
}

void finish_allgather(DgcBucket& b, const SchemeContext& c, const std::vector<torch::Tensor>& out) {
  b.decode(c.compressor, c.world_size, c.world_size, "rank", out);
}

void average_memory_in_node(DgcBucket& b, Compressor& compressor, ProcessGroup& node) {
  if (node.size() == 1) return;
  for (const std::size_t j : b.sparse) {
    auto& memory = compressor.memory();
    node.allreduce(memory.momentum(b.tensors[j]), ReduceOp::kAverage);
    node.allreduce(memory.velocity(b.tensors[j]), ReduceOp::kAverage);
  }
}

}  // namespace dgc::detail
