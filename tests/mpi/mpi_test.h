// Shared by the suites of the MPI test binary.
#pragma once

#include "dgc/communicator.h"

namespace dgc::test {
// The binary's one Communicator, made in main.
Communicator& comm();
}  // namespace dgc::test
