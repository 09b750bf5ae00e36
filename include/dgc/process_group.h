// dgc::ProcessGroup: a set of ranks and the collectives among them. The world is one
// (dgc::Communicator derives from it); so are the node-local and cross-node groups that
// Communicator::node() and Communicator::cross_node() return, for exchanges that work in two
// levels (a dense sum inside each node, a sparse exchange between the nodes).
//
// rank() and size() are this group's: rank 0 of node() is the node's first rank in world order,
// and an allreduce on node() sums the node's ranks only; kAverage divides by node().size().
//
// Every MPI failure, and every bad argument, is a dgc::Error naming the call (prefixed with
// "node()." or "cross_node()." on those groups) or the argument; nothing aborts.
//
// Thread safety: none. A Communicator and its groups share one stall-check record of the
// collective in progress, and MPI may have granted only MPI_THREAD_SERIALIZED, so one thread at a
// time may use any of them. Collectives must be called in the same order, with matching
// arguments, on every rank of the group: argument checks are local, so a call rejected on one
// rank and not on another leaves the others waiting. Collectives of different groups may
// interleave differently on different ranks (a node leader's cross-node allgather between two
// node-local calls, say) as long as no rank waits for one that another rank will only reach
// after it.
//
// Lifetime: a group is owned by its Communicator and valid as long as it is.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "dgc/export.h"

namespace dgc {

enum class ReduceOp {
  kSum,
  kAverage,  // the sum divided by size(); floating-point dtypes only
};

namespace detail {
struct GroupState;
}  // namespace detail

class DGC_EXPORT ProcessGroup {
 public:
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;
  ProcessGroup(ProcessGroup&&) = delete;
  ProcessGroup& operator=(ProcessGroup&&) = delete;

  // This rank's place in the group, in [0, size()).
  int rank() const;
  int size() const;

  // Raw buffers, for packed buckets. Counts and byte sizes must be in [0, INT_MAX] (MPI counts
  // are int); allgatherv's total must be too.

  // In place; `count` elements of `dtype`: float32, float64, int32, int64, float16 or bfloat16
  // (both summed in float, rounded to their type at each step).
  void allreduce(void* data, std::int64_t count, torch::ScalarType dtype, ReduceOp op);
  // `recv` holds size() * bytes_per_rank bytes, rank r's at offset r * bytes_per_rank.
  void allgather(const void* send, std::int64_t bytes_per_rank, void* recv);
  // Ranks may send different sizes. Fills bytes_per_rank[r] with rank r's size and `recv` with
  // every rank's bytes in rank order (both are resized; their capacity is reused).
  void allgatherv(const void* send, std::int64_t bytes, std::vector<std::int64_t>& bytes_per_rank,
                  std::vector<std::uint8_t>& recv);
  void broadcast(void* data, std::int64_t bytes, int root);
  // Personalised exchange: `send` holds one part per rank in rank order, send_bytes[r] bytes
  // for rank r. Fills recv_bytes[r] with what rank r sent to this rank and `recv` with those
  // parts in rank order (both are resized; their capacity is reused). The sizes travel first,
  // in an alltoall of their own. A rank that would receive more than INT_MAX bytes in all fails
  // alone with a dgc::Error (no other rank can know it), and the others wait in the collective:
  // DistributedOptions::failure_policy decides what happens to them.
  void alltoallv(const void* send, const std::vector<std::int64_t>& send_bytes,
                 std::vector<std::int64_t>& recv_bytes, std::vector<std::uint8_t>& recv);

  // Tensors: defined, dense, contiguous, on the CPU; anything else is a dgc::Error.

  // In place; the dtypes of the raw form.
  void allreduce(torch::Tensor& tensor, ReduceOp op);
  // Every rank's tensor (same numel and dtype on every rank), flattened and concatenated in rank
  // order: shape [size() * numel].
  torch::Tensor allgather(const torch::Tensor& tensor);
  // Like allgather, but numel may differ between ranks. The dtype must not: a mismatch is a
  // dgc::Error on every rank.
  torch::Tensor allgatherv(const torch::Tensor& tensor);
  // In place; same numel and dtype on every rank.
  void broadcast(torch::Tensor& tensor, int root);

  void barrier();

 protected:
  // Only the communicator layer makes groups (it fills the state in once MPI is up).
  DGC_HIDDEN explicit ProcessGroup(std::unique_ptr<detail::GroupState> state);
  ~ProcessGroup();
  detail::GroupState& group_state() const { return *state_; }

 private:
  std::unique_ptr<detail::GroupState> state_;
};

}  // namespace dgc
