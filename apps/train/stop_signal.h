// Stopping dgc-train on a signal without losing the work since the last epoch.
//
// The first SIGINT, SIGTERM or SIGUSR1 only asks for a stop: the training loop notices it at the
// next step boundary, every rank saves its checkpoint at the same step, and the run ends (a rerun
// of the same command resumes there). A second SIGINT or SIGTERM ends the process at once with
// the signal's default action. Under mpirun: Open MPI forwards SIGUSR1 to every rank as it is,
// while on SIGINT or SIGTERM it sends the ranks SIGTERM and, odls_base_sigkill_timeout seconds
// later (1 by default), SIGKILL (docs/TRAINING.md, "Stopping a run").
#pragma once

namespace dgc::train {

// Installs the handlers. `announce`: the first signal writes one line to stderr (rank 0 only, so
// that a job prints it once).
void install_stop_handlers(bool announce);

// The signal that asked for a stop, or 0.
int stop_requested();

}  // namespace dgc::train
