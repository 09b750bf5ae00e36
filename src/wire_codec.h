// Encoding of a selection into the wire dtypes and the checked, accumulating decode.
#pragma once

#include <cstdint>
#include <string>

#include "dgc/wire.h"

namespace dgc::detail {

// Writes `count` values and indices in the wire dtypes.
void encode(const float* values, const std::int64_t* indices, std::int64_t count,
            const WireFormat& format, void* values_out, void* indices_out);

// out[idx] += val for every pair, in order, then out *= 1 / world_size. All indices are checked
// against [0, numel) first; an out-of-range one throws dgc::Error naming `tensor` and nothing is
// written.
void decode_average(const void* values, const void* indices, std::int64_t count,
                    const WireFormat& format, std::int64_t numel, std::int64_t world_size,
                    const std::string& tensor, float* out);

}  // namespace dgc::detail
