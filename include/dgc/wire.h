// What a compressed tensor looks like on the wire: values fp32 or fp16, indices int64 or int32.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>

namespace dgc {

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
