// The parts of Communicator::allgatherv_through_leaders that other exchanges share or that tests
// call alone: a broadcast of sized messages, and the unpacking of the nodes' blocks.
#pragma once

#include <cstdint>
#include <vector>

#include "dgc/communicator.h"

namespace dgc::detail {

// Broadcasts `group` rank 0's `sizes` (every rank passes as many), then `data`, their sum in
// bytes. The other ranks check every size before they make room for the data (MPI counts are
// int); a bad one is a dgc::Error. Returns the bytes broadcast, sizes included.
std::int64_t broadcast_sized(ProcessGroup& group, std::vector<std::int64_t>& sizes,
                             std::vector<std::uint8_t>& data);

// `blocks` holds node k's block at the offset of block_bytes[0..k): node k's ranks' sizes (8
// bytes each, in node rank order), then their bytes. Fills bytes_per_rank[r] and recv with world
// rank r's, as allgatherv() does. Every size is checked before a byte is copied; a block that
// does not hold exactly its ranks' sizes and bytes is a dgc::Error naming the node, and leaves
// bytes_per_rank and recv unspecified.
void unpack_node_blocks(const Communicator& comm, const std::vector<std::int64_t>& block_bytes,
                        const std::vector<std::uint8_t>& blocks,
                        std::vector<std::int64_t>& bytes_per_rank, std::vector<std::uint8_t>& recv);

}  // namespace dgc::detail
