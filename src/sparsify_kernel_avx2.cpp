// Pass one with 8 lanes, built with -mavx2 on x86-64 only (src/CMakeLists.txt), and run only
// where the CPU has AVX2 (sparsify_kernel.cpp checks). Nothing else may live in this file: any
// code here may use AVX2 instructions. The helpers it inlines have internal linkage
// (sparsify_pass_one.h), so no AVX2 copy of them can stand in for the portable one.
#include "sparsify_pass_one.h"

namespace dgc::detail {

template <bool kNesterov, bool kClip>
bool update_blocks_avx2(const PassOne& p, std::int64_t b0, std::int64_t b1) {
  return update_blocks<8, kNesterov, kClip>(p, b0, b1);
}

DGC_INSTANTIATE_PASS_ONE(update_blocks_avx2);

}  // namespace dgc::detail
