// Communicator::allgatherv_through_leaders: Horovod's hierarchical allgather.
#include "leaders_allgather.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "dgc/error.h"

namespace dgc {

CollectiveBytes Communicator::allgatherv_through_leaders(const void* send, std::int64_t bytes,
                                                         std::vector<std::int64_t>& bytes_per_rank,
                                                         std::vector<std::uint8_t>& recv) {
  CollectiveBytes moved;
  ProcessGroup& group = node();
  // 1. The node's bytes to every rank of the node (only the leader keeps them).
  std::vector<std::int64_t> node_bytes;
  std::vector<std::uint8_t> node_data;
  group.allgatherv(send, bytes, node_bytes, node_data);
  const auto node_received = static_cast<std::int64_t>(node_data.size()) - bytes;
  moved.sent += bytes;
  moved.received += node_received;
  moved.intra_node += bytes + node_received;
  // 2. The leaders' allgatherv of whole nodes: each node's sizes, then its bytes.
  std::vector<std::int64_t> block_bytes;
  std::vector<std::uint8_t> blocks;
  const bool leader = group.rank() == 0;
  if (leader) {
    const std::size_t header = 8 * node_bytes.size();
    std::vector<std::uint8_t> block(header + node_data.size());
    std::memcpy(block.data(), node_bytes.data(), header);
    std::copy(node_data.begin(), node_data.end(),
              block.begin() + static_cast<std::ptrdiff_t>(header));
    cross_node().allgatherv(block.data(), static_cast<std::int64_t>(block.size()), block_bytes,
                            blocks);
    moved.sent += static_cast<std::int64_t>(block.size());
    moved.received += static_cast<std::int64_t>(blocks.size() - block.size());
  }
  // 3. The blocks to the node's other ranks, their sizes first. Every rank unpacks them itself, so
  // that a malformed block is the same error on every rank, not a leader's alone while its node
  // waits.
  if (group.size() > 1) {
    block_bytes.resize(static_cast<std::size_t>(node_count()));
    const std::int64_t shared = detail::broadcast_sized(group, block_bytes, blocks);
    (leader ? moved.sent : moved.received) += shared;
    moved.intra_node += shared;
  }
  detail::unpack_node_blocks(*this, block_bytes, blocks, bytes_per_rank, recv);
  return moved;
}

namespace detail {

std::int64_t broadcast_sized(ProcessGroup& group, std::vector<std::int64_t>& sizes,
                             std::vector<std::uint8_t>& data) {
  const std::int64_t size_bytes = 8 * static_cast<std::int64_t>(sizes.size());
  group.broadcast(sizes.data(), size_bytes, 0);
  std::int64_t total = 0;
  for (const std::int64_t size : sizes) {
    DGC_CHECK(size >= 0 && size <= INT_MAX - total, "rank 0 of the group broadcast a size of ",
              size, " bytes (", total, " before it)");
    total += size;
  }
  data.resize(static_cast<std::size_t>(total));
  group.broadcast(data.data(), total, 0);
  return size_bytes + total;
}

void unpack_node_blocks(const Communicator& comm, const std::vector<std::int64_t>& block_bytes,
                        const std::vector<std::uint8_t>& blocks,
                        std::vector<std::int64_t>& bytes_per_rank,
                        std::vector<std::uint8_t>& recv) {
  const int nodes = comm.node_count();
  DGC_CHECK(static_cast<int>(block_bytes.size()) == nodes, "the node leaders' allgather returned ",
            block_bytes.size(), " blocks for ", nodes, " nodes");
  std::vector<std::int64_t> block_start(nodes + 1, 0);
  for (int k = 0; k < nodes; ++k) block_start[k + 1] = block_start[k] + block_bytes[k];
  DGC_CHECK(block_start[nodes] == static_cast<std::int64_t>(blocks.size()),
            "the node leaders' blocks of ", block_start[nodes], " bytes in all arrived in ",
            blocks.size(), " bytes");
  const int world = comm.size();
  bytes_per_rank.assign(static_cast<std::size_t>(world), 0);
  std::vector<std::int64_t> source(static_cast<std::size_t>(world));
  std::vector<std::int64_t> next(block_start.begin(), block_start.end() - 1);  // per node
  for (int k = 0; k < nodes; ++k) {
    const std::int64_t header = 8 * static_cast<std::int64_t>(comm.node_sizes()[k]);
    DGC_CHECK(block_bytes[k] >= header, "node ", k, "'s leader sent ", block_bytes[k],
              " bytes, less than the sizes of its ", comm.node_sizes()[k], " ranks");
    next[k] += header;
  }
  // World rank r is rank node_rank_of(r) of its node: its bytes follow its node mates'.
  for (int r = 0; r < world; ++r) {
    const int k = comm.node_of(r), j = comm.node_rank_of(r);
    std::int64_t size = 0;
    std::memcpy(&size, blocks.data() + block_start[k] + 8 * j, 8);
    const std::int64_t room = block_start[k + 1] - next[k];
    DGC_CHECK(size >= 0 && size <= room, "node ", k, "'s leader sent a message of ", size,
              " bytes for rank ", r, " with ", room, " bytes left in its block");
    bytes_per_rank[r] = size;
    source[r] = next[k];
    next[k] += size;
  }
  for (int k = 0; k < nodes; ++k) {
    DGC_CHECK(next[k] == block_start[k + 1], "node ", k, "'s leader sent ",
              block_start[k + 1] - next[k], " bytes beyond its ranks' messages");
  }
  std::int64_t total = 0;
  for (const std::int64_t size : bytes_per_rank) total += size;
  recv.resize(static_cast<std::size_t>(total));
  std::int64_t at = 0;
  for (int r = 0; r < world; ++r) {
    std::memcpy(recv.data() + at, blocks.data() + source[r], bytes_per_rank[r]);
    at += bytes_per_rank[r];
  }
}

}  // namespace detail
}  // namespace dgc
