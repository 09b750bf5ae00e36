// One rank's selections of a bucket's sparse tensors as one encoded message (include/dgc/wire.h,
// "Encoded messages"), and the checked decoding of every sender's message. Used by the DGC hooks
// when their wire encoding is kEncoded. Internal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dgc/wire.h"
#include "sparse_codec.h"

namespace dgc::detail {

// The codec's value type for a wire format's values.
ValueType value_type_of(const WireFormat& wire);

// What one sender's message of these tensors is expected to weigh with every tensor at its
// capacity and its indices spread evenly (about k + 2 bits each, k the Rice parameter): the
// figure that the dense fallback weighs. The real size depends on the data, which ranks do not
// share, and decisions that every rank must take alike cannot use it.
std::int64_t expected_message_bytes(const std::vector<std::int64_t>& capacities,
                                    const std::vector<std::int64_t>& numels, ValueType type);

class SparseMessage {
 public:
  // The bucket's sparse tensors, in message order: their capacities (the plans' num_selects)
  // and sizes. Keeps the buffers when nothing changed.
  void plan(const std::vector<std::int64_t>& capacities, const std::vector<std::int64_t>& numels,
            ValueType type);
  std::size_t size() const { return capacities_.size(); }
  std::int64_t capacity(std::size_t k) const { return capacities_[k]; }
  ValueType value_type() const { return type_; }

  // Where the compressor writes tensor k's selection (float32 values, int64 indices, capacity
  // entries: CompressJob::raw), and how many entries it wrote.
  float* values(std::size_t k) { return own_[k].values.data(); }
  std::int64_t* indices(std::size_t k) { return own_[k].indices.data(); }
  void set_count(std::size_t k, std::int64_t count) { own_[k].count = count; }
  // This rank's entries of tensor k, as the compressor wrote them (before encoding).
  WireSlice own(std::size_t k) const;

  // Encodes this rank's selections into `out` (resized): one block per tensor, in order.
  void encode(std::vector<std::uint8_t>& out) const;

  // Decodes every sender's message: `gathered` holds them back to back, sender s's
  // bytes_per_sender[s] bytes. Everything is checked (counts against capacities, indices against
  // sizes, the message's end against the last block's); a malformed message is a dgc::Error
  // naming the tensor (names[k]) and, when `senders_are` is not empty, the sender ("rank 3",
  // "node 1"). The result stays here until the next decode.
  void decode(const std::uint8_t* gathered, const std::vector<std::int64_t>& bytes_per_sender,
              const std::vector<std::string>& names, const char* senders_are);
  // Tensor k's entries from each sender, in sender order (float32 values, int64 indices).
  std::vector<WireSlice> slices(std::size_t k) const;

 private:
  struct Selection {
    std::vector<std::int64_t> indices;
    std::vector<float> values;
    std::int64_t count = 0;
  };
  std::vector<std::int64_t> capacities_, numels_;
  ValueType type_ = ValueType::kFloat32;
  std::vector<Selection> own_;                   // per tensor
  std::vector<std::vector<Selection>> decoded_;  // per tensor, per sender
};

}  // namespace dgc::detail
