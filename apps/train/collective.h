// Decisions that every rank of dgc-train takes together.
//
// A check that fails on one rank only (a file missing there, a corrupt checkpoint there) must not
// leave the others waiting in the next collective: each such step runs on every rank, then the
// ranks exchange their outcomes, and either all go on or all stop with the same error. Rank 0
// alone prints it, and every rank exits normally (no MPI_Abort, no repeated messages).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/error.h"

namespace dgc::train {

// An error that every rank raised at the same point, with the same text: main prints it on rank
// 0 only and exits 1 on every rank without aborting the job.
class CollectiveFailure : public Error {
 public:
  explicit CollectiveFailure(const std::string& message) : Error(message, "", 0) {}
};

// Runs `step` on this rank, then learns every rank's outcome (one allgatherv of the error texts).
// If any rank's step threw (dgc::Error or any std::exception), every rank throws a
// CollectiveFailure: the message alone when every rank failed alike, else "rank R: message" for
// each rank that failed. Collective: every rank calls it at the same point, with no other use of
// `comm` in flight.
void run_together(Communicator& comm, const std::function<void()>& step);

// What every rank learns after each training step: the signal that asked some rank to stop (0:
// none), the ranks whose loss was not finite, and whether any rank's step threw. One allgather of
// three numbers per step. Collective, like run_together.
struct StepOutcome {
  int stop_signal = 0;
  std::vector<int> non_finite_loss;
  bool any_failed = false;
};
StepOutcome agree_on_step(Communicator& comm, int stop_signal, bool loss_finite, bool failed);

// Every rank's `text`, in rank order (one allgatherv). Collective.
std::vector<std::string> allgather_texts(Communicator& comm, const std::string& text);

// Throws a CollectiveFailure on every rank unless every rank passed the same `text`: "the ranks
// do not agree on <what>: rank R has ..., rank 0 has ...". Collective, like run_together.
void check_same_on_every_rank(Communicator& comm, const std::string& text, const std::string& what);

// "0, 2, 3": ranks for messages.
std::string rank_list(const std::vector<int>& ranks);

}  // namespace dgc::train
