// What DGC puts on the wire, documented once (LevelDB's table_format.md, for messages). Version
// kWireFormatVersion; the ranks compare it before a bucket's first exchange (with the bucket's
// layout), so processes of dgc releases that send other layouts stop with one error instead of
// misreading each other.
//
// Scalars: values float32 (IEEE 754 binary32) or, with fp16_values, float16 (binary16); indices
// int64 or, with int32_indices, int32; counts int64. All little-endian, as the hosts' memory holds
// them (dgc runs between hosts of one byte order).
//
// One slot: what one rank contributes to the allgather of one bucket of the `dgc` exchange.
// Every rank's slot has the same size, derived from the bucket's tensors and the plans (each
// sparse tensor's capacity is its plan's num_selects), so no sizes travel:
//
//   counts   : int64 count[T]              T = the bucket's sparse tensors, in bucket order
//   (zero padding to a multiple of 8 bytes)
//   indices  : index[capacity_0] ... index[capacity_{T-1}]   each tensor's region, in order
//   (zero padding to a multiple of 8 bytes)
//   values   : value[capacity_0] ... value[capacity_{T-1}]
//   (zero padding to a multiple of 8 bytes)
//
// Tensor t's entries are the first count[t] of its regions: index i (a flat position in
// [0, numel_t)) with its value; the rest of the region is ignored (zero the first time a buffer
// is sent, stale afterwards). Indices ascend within a tensor. A receiver checks every count
// against [0, capacity_t] and every index against [0, numel_t) before it writes anything, and
// names the rank whose slot was bad.
//
// The gathered message is world_size slots in rank order. The averaged gradient of tensor t is
// the sum, in rank order, of every slot's (index, value) pairs, times 1 / world_size.
//
// The bucket's dense tensors (one dimension, or every tensor at a ratio >= 1, or a whole bucket
// under the dense fallback) travel in one allreduce of their gradients concatenated in bucket
// order, in float32 or, with fp16_values, float16.
//
// Block: one tensor's selection, coded compactly (src/sparse_codec.h): the indices as gaps in a
// Rice code, about 1.44 bytes each at a density of 1/1000 instead of 4 or 8. Its value type
// (float32, float16 or bfloat16) is known to both sides, not sent. In order, packed:
//
//   count  : unsigned LEB128 varint: 7 bits per byte, low group first, high bit = more bytes
//            follow; at most 10 bytes, canonical (the last byte is nonzero, except count 0,
//            which is the single byte 0x00). A count of 0 ends the block (1 byte).
//   k      : uint8, the Rice parameter, 0..62. The encoder's choice, a function of the indices:
//            with mean = (index_last + 1 - count) / count (integer division: the mean gap),
//            k = 0 if mean == 0, else floor(log2(mean)).
//   gaps   : a bit stream, bits filling each byte from bit 0 (the least significant) up. Entry j's
//            gap is d_j = index_j - (j == 0 ? 0 : index_{j-1} + 1), >= 0 as indices strictly
//            ascend; it is written as q = d_j >> k one-bits, a zero-bit, then the k low bits of
//            d_j, least significant first. Zero bits pad the stream to the next byte boundary.
//   values : count values of the value type, little-endian, right after the stream (no
//            alignment); float16 and bfloat16 are c10::Half(v) and c10::BFloat16(v) of the
//            float32 value (round to nearest even).
//
// A receiver knows numel (the tensor's elements) and its capacity (the most entries it takes),
// trusts no byte, and refuses with an error naming the block (tensor and rank): a count varint
// truncated, longer than 10 bytes, overflowing 64 bits or not canonical; a count above the
// capacity or numel (before anything is written); no k byte, or k > 62; a gap that takes an
// index to numel or beyond (the unary run is bounded by (numel - 1 - m) >> k, m being the smallest
// index the entry may have, before it is read, so a hostile run costs no more than its bytes); a
// stream that ends early; nonzero padding; a k other than the encoder's; fewer value bytes than
// count values. So every accepted block is exactly the encoding of what it decodes to. Bytes
// after the block are not part of it.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>

namespace dgc {

// The version of the layout above. 1: the first documented one.
constexpr std::int64_t kWireFormatVersion = 1;

struct WireFormat {
  bool fp16_values = false;
  bool int32_indices = false;

  c10::ScalarType value_dtype() const { return fp16_values ? c10::kHalf : c10::kFloat; }
  c10::ScalarType index_dtype() const { return int32_indices ? c10::kInt : c10::kLong; }
  std::int64_t value_bytes() const { return fp16_values ? 2 : 4; }
  std::int64_t index_bytes() const { return int32_indices ? 4 : 8; }
};

// One rank's part of a gathered exchange: `count` values and indices in the wire dtypes.
struct WireSlice {
  const void* values = nullptr;
  const void* indices = nullptr;
  std::int64_t count = 0;
};

}  // namespace dgc
