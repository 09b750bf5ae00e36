// Shared by dgc's test binaries: the cores a thread may run on.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <vector>

namespace dgc::test {

// The cores thread `tid` (0: the calling thread) may run on, in increasing order; empty if the
// kernel does not say.
inline std::vector<int> allowed_cores(pid_t tid = 0) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cores;
  if (sched_getaffinity(tid, sizeof set, &set) != 0) return cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cores.push_back(cpu);
  }
  return cores;
}

}  // namespace dgc::test
