#include "sparse_slots.h"

#include <cstring>

#include "dgc/error.h"

namespace dgc::detail {

namespace {
std::int64_t round_up8(std::int64_t bytes) { return (bytes + 7) / 8 * 8; }
}  // namespace

SparseSlotLayout plan_sparse_slots(const std::vector<std::int64_t>& capacities,
                                   const WireFormat& wire) {
  SparseSlotLayout layout;
  if (capacities.empty()) return layout;
  std::int64_t offset = round_up8(static_cast<std::int64_t>(capacities.size()) * 8);
  for (const std::int64_t capacity : capacities) {
    layout.tensors.push_back({capacity, offset, 0});
    offset += capacity * wire.index_bytes();
  }
  offset = round_up8(offset);
  for (auto& t : layout.tensors) {
    t.value_offset = offset;
    offset += t.capacity * wire.value_bytes();
  }
  layout.bytes = round_up8(offset);
  return layout;
}

void write_slot_count(std::uint8_t* slot, std::size_t j, std::int64_t count) {
  std::memcpy(slot + 8 * j, &count, 8);
}

std::vector<WireSlice> read_slices(const std::uint8_t* gathered, const SparseSlotLayout& layout,
                                   std::size_t j, int world_size, const std::string& tensor) {
  const auto& t = layout.tensors.at(j);
  std::vector<WireSlice> slices(static_cast<std::size_t>(world_size));
  for (int r = 0; r < world_size; ++r) {
    const std::uint8_t* slot = gathered + static_cast<std::size_t>(r) * layout.bytes;
    std::int64_t count;
    std::memcpy(&count, slot + 8 * j, 8);
    DGC_CHECK(count >= 0 && count <= t.capacity, "rank ", r, " sent ", count,
              " entries for tensor '", tensor, "', which has room for ", t.capacity);
    slices[static_cast<std::size_t>(r)] = {slot + t.value_offset, slot + t.index_offset, count};
  }
  return slices;
}

}  // namespace dgc::detail
