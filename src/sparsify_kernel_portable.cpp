// Pass one with 4 lanes: SSE on x86-64 (its baseline), NEON on ARM, scalar code where the
// target has no 16-byte vectors. Always built; the only variant under DGC_PORTABLE_KERNEL.
#include "sparsify_pass_one.h"

namespace dgc::detail {

template <bool kNesterov, bool kClip>
bool update_blocks_portable(const PassOne& p, std::int64_t b0, std::int64_t b1) {
  return update_blocks<4, kNesterov, kClip>(p, b0, b1);
}

DGC_INSTANTIATE_PASS_ONE(update_blocks_portable);

}  // namespace dgc::detail
