#include "wire_codec.h"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>

#include "dgc/error.h"

namespace dgc::detail {

namespace {

// " from rank r" when the slices are the ranks', else nothing.
std::string from_rank(bool slices_are_ranks, std::size_t slice) {
  return slices_are_ranks ? " from rank " + std::to_string(slice) : std::string();
}

template <typename Index>
void check_indices(const Index* indices, std::int64_t count, std::int64_t numel,
                   const std::string& tensor, const std::string& from) {
  for (std::int64_t j = 0; j < count; ++j) {
    const auto i = static_cast<std::int64_t>(indices[j]);
    DGC_CHECK(i >= 0 && i < numel, "received index ", i, " at position ", j, from, " for tensor '",
              tensor, "' of ", numel, " elements");
  }
}

template <typename Value, typename Index>
void accumulate(const Value* values, const Index* indices, std::int64_t count, float scale,
                float* out) {
  for (std::int64_t j = 0; j < count; ++j) out[indices[j]] += static_cast<float>(values[j]) * scale;
}

template <typename Index>
void accumulate_any(const void* values, const Index* indices, std::int64_t count,
                    const WireFormat& format, float scale, float* out) {
  if (format.fp16_values) {
    accumulate(static_cast<const c10::Half*>(values), indices, count, scale, out);
  } else if (format.bf16_values) {
    accumulate(static_cast<const c10::BFloat16*>(values), indices, count, scale, out);
  } else {
    accumulate(static_cast<const float*>(values), indices, count, scale, out);
  }
}

}  // namespace

void encode(const float* values, const std::int64_t* indices, std::int64_t count,
            const WireFormat& format, void* values_out, void* indices_out) {
  if (format.fp16_values) {
    auto* out = static_cast<c10::Half*>(values_out);
    for (std::int64_t j = 0; j < count; ++j) out[j] = c10::Half(values[j]);
  } else if (format.bf16_values) {
    auto* out = static_cast<c10::BFloat16*>(values_out);
    for (std::int64_t j = 0; j < count; ++j) out[j] = c10::BFloat16(values[j]);
  } else {
    std::copy_n(values, count, static_cast<float*>(values_out));
  }
  if (format.int32_indices) {
    auto* out = static_cast<std::int32_t*>(indices_out);
    for (std::int64_t j = 0; j < count; ++j) out[j] = static_cast<std::int32_t>(indices[j]);
  } else {
    std::copy_n(indices, count, static_cast<std::int64_t*>(indices_out));
  }
}

void decode_average(const std::vector<WireSlice>& slices, const WireFormat& format,
                    std::int64_t numel, std::int64_t world_size, const std::string& tensor,
                    bool slices_are_ranks, float* out) {
  DGC_CHECK(world_size > 0, "world_size must be > 0, got ", world_size);
  // The original multiplies the sum by the reciprocal (grad.mul_(1 / world_size)). When that is
  // a power of two, scaling each value first gives bitwise the same result (barring subnormals)
  // and saves a pass over the whole tensor.
  const float scale = static_cast<float>(1.0 / static_cast<double>(world_size));
  const bool exact_prescale = (world_size & (world_size - 1)) == 0;
  const auto run = [&](auto index_type) {
    using Index = decltype(index_type);
    for (std::size_t r = 0; r < slices.size(); ++r) {
      const auto& slice = slices[r];
      const std::string from = from_rank(slices_are_ranks, r);
      DGC_CHECK(slice.count >= 0, "negative entry count ", slice.count, from, " for tensor '",
                tensor, "'");
      check_indices(static_cast<const Index*>(slice.indices), slice.count, numel, tensor, from);
    }
    std::fill_n(out, numel, 0.0f);
    for (const auto& slice : slices) {
      accumulate_any(slice.values, static_cast<const Index*>(slice.indices), slice.count, format,
                     exact_prescale ? scale : 1.0f, out);
    }
  };
  if (format.int32_indices) {
    run(std::int32_t{});
  } else {
    run(std::int64_t{});
  }
  if (!exact_prescale) {
    for (std::int64_t i = 0; i < numel; ++i) out[i] *= scale;
  }
}

}  // namespace dgc::detail
