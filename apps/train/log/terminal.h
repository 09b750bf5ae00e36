// Whether dgc-train's progress line may be redrawn in place: only when its output goes to the
// user's terminal. Anywhere else (a file, a pipe, `tail -f`, `grep`) it must be plain lines, or a
// log gets one carriage-return-joined line per epoch that shows nothing until the epoch ends.
#pragma once

namespace dgc::train {

// isatty(stdout), except under an MPI launcher (Open MPI, or anything that sets PMI_ or PMIX_
// variables): Open MPI gives each rank a pty of its own even when mpirun's output goes to a file,
// so there the launcher's stdout decides, read through /proc/<parent>/fd/1 (the parent of a rank
// on the launching host is mpirun itself). When that cannot be read (a rank on another host,
// whose parent is a daemon, or no /proc), the answer is false: plain lines are always readable,
// redraws only on a terminal. Thread-safe; reads the environment and /proc on every call.
bool stdout_is_users_terminal();

}  // namespace dgc::train
