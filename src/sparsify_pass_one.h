// Pass one of the fused kernel (sparsify_kernel.h), written once for any vector width W. Each
// instruction-set variant instantiates it in a file of its own, built with that set's flags
// (DESIGN.md "Layers"): sparsify_kernel_portable.cpp (4 lanes: SSE on x86-64, NEON on ARM, plain
// code elsewhere) and, on x86-64 only, sparsify_kernel_avx2.cpp (8 lanes, -mavx2). The dispatch
// between them is in sparsify_kernel.cpp. Every file that includes this one is built with
// -ffp-contract=off: the kernel must round exactly like the op-by-op original.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <cstring>
#include <utility>

#include "momentum.h"
#include "sparsify_kernel.h"

namespace dgc::detail {

// One call's view of the tensors; the variants take it across files, so it has one definition.
struct PassOne {
  const float* g;
  float* u;
  float* v;
  std::int64_t n;
  float m, scale, lo, hi;
  bool clip;  // scale or clamp g
  float* line_max;
  float* block_max;
};

constexpr std::int64_t kLinesPerBlock = kBlock / kLine;  // 16, one mask

// Updates the whole blocks [b0, b1) and records their maxima; returns false if a non-finite
// value appeared. The same result, bitwise, from every variant.
template <bool kNesterov, bool kClip>
bool update_blocks_portable(const PassOne& p, std::int64_t b0, std::int64_t b1);
#if DGC_HAVE_AVX2_KERNEL
// Only where the CPU has AVX2 (sparsify_kernel.cpp checks): the file is built with -mavx2.
template <bool kNesterov, bool kClip>
bool update_blocks_avx2(const PassOne& p, std::int64_t b0, std::int64_t b1);
#endif
// Each variant file defines its update_blocks_* for every <kNesterov, kClip> with this, inside
// namespace dgc::detail.
#define DGC_INSTANTIATE_PASS_ONE(name)                                          \
  template bool name<false, false>(const PassOne&, std::int64_t, std::int64_t); \
  template bool name<false, true>(const PassOne&, std::int64_t, std::int64_t);  \
  template bool name<true, false>(const PassOne&, std::int64_t, std::int64_t);  \
  template bool name<true, true>(const PassOne&, std::int64_t, std::int64_t)

// Internal linkage on purpose, though this is a header: each variant file gets its own copy of
// these functions, compiled with its own instruction set. With external linkage the linker would
// keep one copy of each for the whole library, possibly the AVX2 one for the portable path.
namespace {

// W floats as one value (GCC/Clang vector extensions): 4 lanes map to SSE, 8 to AVX. The max
// over |v| is written with explicit vectors because compilers do not vectorize a float max
// reduction without -ffast-math, which would also remove the NaN checks.
template <int W>
struct Lanes;
template <>
struct Lanes<4> {
  using F = float __attribute__((vector_size(16)));
  using I = std::int32_t __attribute__((vector_size(16)));
};
template <>
struct Lanes<8> {
  using F = float __attribute__((vector_size(32)));
  using I = std::int32_t __attribute__((vector_size(32)));
};

#define DGC_INLINE inline __attribute__((always_inline))

template <typename F>
DGC_INLINE F load(const float* p) {
  F x;
  std::memcpy(&x, p, sizeof x);
  return x;
}
template <typename F>
DGC_INLINE void store(float* p, F x) {
  std::memcpy(p, &x, sizeof x);
}

// Momentum correction and accumulation, in the original's operation order (bitwise equal):
// u as momentum.h says, then plain v = v + u, nesterov v = (v + u) + g.
template <bool kNesterov, typename T>
DGC_INLINE void update(T g, T& u, T& v, T m) {
  u = momentum_update<kNesterov>(g, u, m);
  v = v + u;
  if constexpr (kNesterov) v = v + g;
}

template <typename T>
DGC_INLINE T clamp_grad(T g, T scale, T lo, T hi) {
  g = g * scale;
  g = g < lo ? lo : g;
  return g > hi ? hi : g;
}

// Lane l of the result is lane l ^ kHalf of x.
template <int W, int kHalf, std::size_t... kLane>
DGC_INLINE typename Lanes<W>::F swap_lanes(typename Lanes<W>::F x, std::index_sequence<kLane...>) {
#if defined(__clang__)
  // clang (the fuzz build) has no __builtin_shuffle; its own builtin takes the lanes as constants.
  return __builtin_shufflevector(x, x, static_cast<int>(kLane ^ kHalf)...);
#else
  return __builtin_shuffle(x, typename Lanes<W>::I{static_cast<std::int32_t>(kLane ^ kHalf)...});
#endif
}

// The max over the lanes of x by a tree of log2(W) shuffles. The compiler turns a loop of
// std::max over the lanes into a chain of W - 1 dependent steps (it may not reorder them, for
// NaN's sake), once per line in pass 1. Here the lanes are |v|, and a NaN voids the whole step,
// so the order of the comparisons changes no result.
template <int W, int kHalf = W / 2>
DGC_INLINE float horizontal_max(typename Lanes<W>::F x) {
  const auto y = swap_lanes<W, kHalf>(x, std::make_index_sequence<W>{});
  x = y > x ? y : x;
  if constexpr (kHalf == 1) {
    return x[0];
  } else {
    return horizontal_max<W, kHalf / 2>(x);
  }
}

// update_blocks_* with W lanes.
template <int W, bool kNesterov, bool kClip>
DGC_INLINE bool update_blocks(const PassOne& p, std::int64_t b0, std::int64_t b1) {
  using F = typename Lanes<W>::F;
  using I = typename Lanes<W>::I;
  const F zero{};
  const F vm = zero + p.m, vscale = zero + p.scale, vlo = zero + p.lo, vhi = zero + p.hi;
  const F vfinite = zero + FLT_MAX;
  I finite = I{} - 1;
  // Locals, not p's fields: the stores through float* could alias p, so the compiler would
  // reload every pointer after every store.
  const float* const g = p.g;
  float* const u = p.u;
  float* const v = p.v;
  float* const line_max = p.line_max;
  for (std::int64_t b = b0; b < b1; ++b) {
    float block_best = 0.0f;
    for (std::int64_t line = b * kLinesPerBlock; line < (b + 1) * kLinesPerBlock; ++line) {
      const std::int64_t i0 = line * kLine;
      F mx{};
      for (std::int64_t i = i0; i < i0 + kLine; i += W) {
        F gi = load<F>(g + i), ui = load<F>(u + i), vi = load<F>(v + i);
        if constexpr (kClip) gi = clamp_grad(gi, vscale, vlo, vhi);
        update<kNesterov>(gi, ui, vi, vm);
        store(u + i, ui);
        store(v + i, vi);
        const F a = (F)((I)vi & 0x7fffffff);
        mx = a > mx ? a : mx;
        finite &= (a <= vfinite);
      }
      const float best = horizontal_max<W>(mx);
      line_max[line] = best;
      block_best = std::max(block_best, best);
    }
    p.block_max[b] = block_best;
  }
  int all = -1;
  for (int l = 0; l < W; ++l) all &= finite[l];
  return all != 0;
}

}  // namespace
}  // namespace dgc::detail
