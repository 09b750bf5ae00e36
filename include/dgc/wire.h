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
