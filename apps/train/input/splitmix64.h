// splitmix64's finalizer: consecutive inputs give independent-looking outputs, which is what the
// input pipeline's counter-based draws need (augment.h, image_geometry.h): a sample's randomness
// is a pure function of its key and a counter, never a generator's state.
#pragma once

#include <cstdint>

namespace dgc::train {

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace dgc::train
