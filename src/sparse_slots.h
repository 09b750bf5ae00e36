// The fixed-size slot a rank contributes to a bucket's sparse allgather, and its checked reading
// on the receiving side (DESIGN.md "How it must perform").
//
// The layout is documented (and versioned) in include/dgc/wire.h:
//   [count of each sparse tensor: int64] [indices of each, capacity entries] [values of each]
// Each region is padded to 8 bytes, so every tensor's indices and values are aligned for their
// type. Entries past a tensor's count are ignored by the receivers, so no rank needs to know
// another's counts before the allgather.
//
// What arrives from a peer is untrusted: read_slices() checks each count against the tensor's
// capacity, and the decoder (wire_codec.h) checks each index against the tensor's size, before
// anything is written. Pure functions over buffers, no MPI; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dgc/wire.h"

namespace dgc::detail {

struct SparseSlotLayout {
  struct Tensor {
    std::int64_t capacity = 0;                        // entries (the plan's num_selects)
    std::int64_t index_offset = 0, value_offset = 0;  // bytes from the slot's start
  };
  std::vector<Tensor> tensors;
  std::int64_t bytes = 0;  // of one slot, a multiple of 8; 0 when there is no tensor
};

// The layout of a slot holding tensors of these capacities, in this order.
SparseSlotLayout plan_sparse_slots(const std::vector<std::int64_t>& capacities,
                                   const WireFormat& wire);

// Writes the count of tensor `j` into a slot.
void write_slot_count(std::uint8_t* slot, std::size_t j, std::int64_t count);

// Tensor `j`'s entries in each of the `world_size` slots of `gathered` (world_size * bytes
// bytes, rank r's slot at r * bytes), in rank order. A count outside [0, capacity] is a
// dgc::Error naming the rank and `tensor`, so a slice never reaches past its own region.
std::vector<WireSlice> read_slices(const std::uint8_t* gathered, const SparseSlotLayout& layout,
                                   std::size_t j, int world_size, const std::string& tensor);

}  // namespace dgc::detail
