// What DGC puts on the wire, documented once (LevelDB's table_format.md, for messages). Version
// kWireFormatVersion; the ranks compare it before a bucket's first exchange (with the bucket's
// layout: encoding, value type, sizes), so processes of dgc releases that send other layouts stop
// with one error instead of misreading each other.
//
// Scalars: values float32 (IEEE 754 binary32) or, with fp16_values, float16 (binary16), or, with
// bf16_values, bfloat16; raw indices int64 or, with int32_indices, int32; counts int64. All
// little-endian, as the hosts' memory holds them (dgc runs between hosts of one byte order).
//
// Everything a peer sends is untrusted: a receiver checks every size, count and index before it
// writes, and an error names the tensor and the sender ("tensor 'w' from rank 3").
//
// ENCODED MESSAGES (WireEncoding::kEncoded, the default)
//
// `dgc`, and the node leaders of `dgc_hierarchical`: a rank's message for one bucket is one block
// (below) per sparse tensor of the bucket, in bucket order, back to back, and nothing else.
// Messages differ in size, so an allgatherv carries them, sizes first. A receiver decodes every
// block of every sender, and a message must end exactly where its last block does. The averaged
// gradient of tensor t is the sum, in sender order, of every sender's (index, value) pairs, times
// 1 / senders: the same sums in the same order as from raw slots, so both encodings give bitwise
// the same gradient when the values are float32.
//
// `dgc_reduce_scatter` with P ranks: tensor t of n elements is cut into P regions,
// region r = [r * (n / P) + min(r, n % P), (r + 1) * (n / P) + min(r + 1, n % P)), owned by rank r.
//   Scatter (an alltoallv): from rank s to owner r, one block per sparse tensor with the entries of
//   s's selection that fall in r's region, indices relative to the region's start, numel the
//   region's length, capacity min(capacity_t, length).
//   Kept sums (an allgatherv): owner r's message is one block per sparse tensor with the positions
//   it kept (relative to its region) and their sums, capacity min(ceil(capacity_t / P), length).
//
// BLOCK
//
// One tensor's selection, coded compactly (src/sparse_codec.h): the indices as gaps in a
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
//
// RAW SLOTS (WireEncoding::kRaw; the only layout of version 1, unchanged)
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
// DENSE TENSORS
//
// The bucket's dense tensors (one dimension, or every tensor at a ratio >= 1, or a whole bucket
// under the dense fallback) travel in one allreduce of their gradients concatenated in bucket
// order, in the value type (float32, float16 or bfloat16).
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>

namespace dgc {

// The version of the layouts above. 1: raw slots only. 2: encoded messages (blocks), bfloat16
// values; raw slots as in 1.
constexpr std::int64_t kWireFormatVersion = 2;

struct WireFormat {
  bool fp16_values = false;
  bool int32_indices = false;
  bool bf16_values = false;

  c10::ScalarType value_dtype() const {
    return fp16_values ? c10::kHalf : bf16_values ? c10::kBFloat16 : c10::kFloat;
  }
  c10::ScalarType index_dtype() const { return int32_indices ? c10::kInt : c10::kLong; }
  std::int64_t value_bytes() const { return fp16_values || bf16_values ? 2 : 4; }
  std::int64_t index_bytes() const { return int32_indices ? 4 : 8; }
};

// How a sparse exchange puts its selections on the wire: encoded blocks (the default), or the
// fixed-size raw slots of version 1, which need no sizes and so one collective fewer.
enum class WireEncoding { kEncoded, kRaw };

// One rank's part of a gathered exchange: `count` values and indices in the wire dtypes.
struct WireSlice {
  const void* values = nullptr;
  const void* indices = nullptr;
  std::int64_t count = 0;
};

}  // namespace dgc
