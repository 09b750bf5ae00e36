// One tensor's sparse selection as a compact block: the count, the indices as Rice-coded gaps,
// then the values (the "Block" section of include/dgc/wire.h is the byte layout). At DGC's usual
// density (1 in 1000) an index costs about 1.44 bytes instead of 4 or 8.
//
// Torch-free on purpose (dgc/error.h and c10's header-only Half and BFloat16 only), so that the
// codec, its tests and its fuzz target compile in seconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace dgc::detail {

enum class ValueType : std::uint8_t { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

std::int64_t value_bytes(ValueType type);     // 4, 2, 2
const char* value_type_name(ValueType type);  // "float32", "float16", "bfloat16"

// The exact number of bytes encode_block writes for these indices (which must strictly ascend
// from >= 0, else a dgc::Error).
std::size_t encoded_block_bytes(const std::int64_t* indices, std::int64_t count, ValueType type);

// Writes one block: `count` strictly ascending indices in [0, numel) and their values, converted
// to `type` with c10::Half(v) / c10::BFloat16(v) (the rounding the rest of dgc uses). Returns the
// bytes written, == encoded_block_bytes. The indices come from this rank, but a bug must not turn
// into a message the peers misread: a count < 0, an index out of [0, numel) or indices that do
// not strictly ascend are a dgc::Error (`out` may then be partly written).
std::size_t encode_block(const std::int64_t* indices, const float* values, std::int64_t count,
                         std::int64_t numel, ValueType type, std::uint8_t* out);

struct DecodedBlock {
  std::int64_t count = 0;
  std::size_t bytes = 0;
};

// Reads one block from data[0, size) (bytes after the block are not looked at as part of it:
// blocks may follow each other). Writes `count` entries to indices_out and values_out (widened to
// float32) and returns {count, bytes consumed}.
//
// Everything read is untrusted. Any malformation is a dgc::Error whose message starts with `what`
// (e.g. "tensor 'layer1.weight' from rank 3") and says what is wrong; a count above `capacity` is
// refused before anything is written. Only canonical blocks are accepted (the encoder's Rice
// parameter, zero padding, minimal count), so every accepted block is exactly what encode_block
// writes for the decoded entries.
//
// On error the outputs may be partly written (the caller's scratch is garbage then), but never
// past `capacity` entries; nothing is read past data[size - 1].
DecodedBlock decode_block(const std::uint8_t* data, std::size_t size, std::int64_t numel,
                          std::int64_t capacity, ValueType type, std::int64_t* indices_out,
                          float* values_out, const std::string& what);

}  // namespace dgc::detail
