// Settings of the Communicator's stall check (docs/DISTRIBUTED.md, "Stalls"): Horovod's
// HOROVOD_STALL_CHECK_TIME_SECONDS and HOROVOD_STALL_SHUTDOWN_TIME_SECONDS as a plain struct.
//
// A collective that blocks for warning_seconds makes the ranks waiting in it print, once per
// warning_seconds, which ranks have not reached it and which wait in another collective; after
// timeout_seconds (if set) the job ends with the same account. Use the same values on every rank.
// Set them with Communicator::set_stall_check(), or through the environment variables
// DGC_STALL_CHECK_TIME_SECONDS and DGC_STALL_SHUTDOWN_TIME_SECONDS read by the constructor.
#pragma once

#include "dgc/export.h"

namespace dgc {

struct StallCheckOptions {
  // Seconds a collective may block before the ranks waiting in it print a warning on stderr
  // naming the ranks that have not reached it; repeated at most this often while the stall lasts.
  // 0 turns the check off, timeout included. Default: 60 (Horovod's).
  double warning_seconds = 60;
  // Seconds a collective may block before the job is ended through Communicator::abort (exit
  // code 1), with a message naming the ranks that have not reached it. 0 never ends the job;
  // otherwise it must be >= warning_seconds > 0. Default: 0.
  double timeout_seconds = 0;
};

// Throws dgc::Error naming the field unless both are finite and >= 0 and timeout_seconds is 0 or
// >= warning_seconds > 0.
DGC_EXPORT void validate(const StallCheckOptions& options);

}  // namespace dgc
