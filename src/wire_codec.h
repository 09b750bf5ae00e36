// Encoding of a selection into the wire dtypes and the checked, accumulating decode.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dgc/wire.h"

namespace dgc::detail {

// Writes `count` values and indices in the wire dtypes.
void encode(const float* values, const std::int64_t* indices, std::int64_t count,
            const WireFormat& format, void* values_out, void* indices_out);

// out = 0, then out[idx] += val for every pair of every slice, in order, then
// out *= 1 / world_size. All counts and indices are checked first (indices against [0, numel));
// a bad one throws dgc::Error naming `tensor`, and the rank when `slices_are_ranks` (slice r is
// then rank r's), and nothing is written. Values are not checked: a NaN or Inf is summed like
// any value, the same on every rank.
void decode_average(const std::vector<WireSlice>& slices, const WireFormat& format,
                    std::int64_t numel, std::int64_t world_size, const std::string& tensor,
                    bool slices_are_ranks, float* out);

}  // namespace dgc::detail
