// The momentum of DGC's memory (ALGORITHM.md sections 3 and 5), written once for the fused
// kernel (float lanes or single floats) and for the dense path. The operation order is the
// original's in-place tensor ops', so results are bitwise equal to them:
//   plain     u = u*m + g
//   nesterov  u = (u + g)*m
// Internal.
#pragma once

namespace dgc::detail {

template <bool kNesterov, typename T>
inline __attribute__((always_inline)) T momentum_update(T g, T u, T m) {
  if constexpr (kNesterov) {
    return (u + g) * m;
  } else {
    return u * m + g;
  }
}

}  // namespace dgc::detail
