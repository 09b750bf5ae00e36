#include "hooks/layout_check.h"

#include <algorithm>
#include <vector>

#include "dgc/error.h"

namespace dgc::detail {

std::int64_t hook_identity(const std::string& hook_name) {
  // FNV-1a: stable across builds and processes, unlike std::hash.
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : hook_name) h = (h ^ c) * 1099511628211ull;
  return static_cast<std::int64_t>(h >> 1);
}

void check_layouts_agree(Communicator& comm, const BucketLayout& mine, const std::string& hook_name,
                         const std::function<std::string(const BucketLayout&)>& describe) {
  std::vector<BucketLayout> all(static_cast<std::size_t>(comm.size()));
  comm.allgather(mine.data(), sizeof mine, all.data());
  for (int r = 1; r < comm.size(); ++r) {
    const BucketLayout& theirs = all[static_cast<std::size_t>(r)];
    DGC_CHECK(theirs[0] == all[0][0], "the ranks disagree on the exchange: rank ", r,
              " runs another comm hook than rank 0 (", hook_name, " on rank ", comm.rank(),
              "); every rank must use the same exchange");
    DGC_CHECK(theirs == all[0],
              "the ranks disagree on a bucket's exchange (rank 0: ", describe(all[0]), "; rank ", r,
              ": ", describe(theirs),
              "): every rank must use the same compression settings and call set_epoch with the "
              "same epoch");
  }
}

}  // namespace dgc::detail
