// The check that every rank derived the same layout for a bucket before a collective whose
// buffer sizes each rank computes alone (a rank that disagreed would make the collective write
// past a receive buffer). Internal.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "dgc/communicator.h"

namespace dgc::detail {

// A bucket's layout as a hook describes it: field 0 identifies the hook (hook_identity), the
// others are the hook's own (sizes, dtypes, versions). Fixed-size, so that ranks running
// different hooks still exchange records of equal size.
using BucketLayout = std::array<std::int64_t, 8>;

std::int64_t hook_identity(const std::string& hook_name);

// One small allgather of every rank's layout; a rank whose layout differs from rank 0's is one
// dgc::Error naming both ranks, each layout written by `describe` (or naming the hooks when
// they differ). Collective.
void check_layouts_agree(Communicator& comm, const BucketLayout& mine, const std::string& hook_name,
                         const std::function<std::string(const BucketLayout&)>& describe);

}  // namespace dgc::detail
