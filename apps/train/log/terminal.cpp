#include "log/terminal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace dgc::train {

namespace {

// Set in every rank by Open MPI's mpirun (OMPI_, PMIX_), by MPICH's Hydra and Intel MPI (PMI_)
// and by Slurm's srun with PMI or PMIx.
bool under_mpi_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

// Whether `path` (a /proc/<pid>/fd/<n> link) is a terminal. Only a character device is opened:
// opening a FIFO could block or wake its other end. O_NOCTTY keeps a terminal from becoming this
// process's controlling terminal.
bool is_terminal(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) return false;
  const int fd = open(path.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  const bool tty = isatty(fd) == 1;
  close(fd);
  return tty;
}

}  // namespace

bool stdout_is_users_terminal() {
  if (isatty(STDOUT_FILENO) != 1) return false;
  if (!under_mpi_launcher()) return true;
  return is_terminal("/proc/" + std::to_string(getppid()) + "/fd/1");
}

}  // namespace dgc::train
