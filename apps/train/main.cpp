// dgc-train: the seed's train.py in C++. Started like the seed's:
//   mpirun -np 2 build/bin/dgc-train --configs configs/fmnist/convnet.yaml configs/dgc/wm5.yaml
//       --configs.train.num_epochs 6 --suffix .e6
// Any failure prints one line and ends the whole job: a failure all ranks share (a bad config, a
// resume they cannot agree on) from rank 0 alone, any other through MPI_Abort (the other ranks
// would wait forever).
#include <malloc.h>

#include <cstdio>
#include <exception>

#include "collective.h"
#include "config/command_line.h"
#include "dgc/communicator.h"
#include "dgc/error.h"
#include "evaluation.h"
#include "trainer.h"

namespace {

// Every training step allocates and frees the same large buffers (activations, gradients). By
// default glibc returns a freed block above its adaptive mmap threshold, and any free top of a
// heap beyond its trim threshold (128 KiB at first), to the kernel, and the next step faults all
// those pages in again. On the
// development VM that was 1.2-2.2 million page faults and 10-16 s of system time in 64
// ResNet-20 steps at np 1, with a step time scattering from 130 to 600 ms between runs; with
// these settings, 0.1 million faults, 1 s, and 130-170 ms (docs/RESULTS.md, "Step time"). The
// process keeps the memory of its largest step instead, which it needs again at the next one.
void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the most glibc accepts; set, it also stops adapting
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace

int main(int argc, char** argv) {
  keep_freed_memory();
  dgc::Communicator comm;
  const bool leader = comm.rank() == 0;
  dgc::train::CommandLine command_line;
  try {
    command_line = dgc::train::parse_command_line(argc, argv);
  } catch (const dgc::Error& e) {
    // Every rank parses the same arguments: one message is enough.
    if (leader) std::fprintf(stderr, "dgc-train: %s\n", e.message().c_str());
    return 2;
  }
  try {
    return command_line.evaluate ? dgc::train::run_evaluation(command_line, comm)
                                 : dgc::train::run_training(command_line, comm);
  } catch (const dgc::train::CollectiveFailure& e) {
    // Every rank failed alike at the same point: rank 0 says it, and the job ends normally.
    if (leader) std::fprintf(stderr, "dgc-train: %s\n", e.message().c_str());
    return 1;
  } catch (const dgc::Error& e) {
    if (comm.size() > 1) comm.abort(e.message());
    std::fprintf(stderr, "dgc-train: %s\n", e.message().c_str());
  } catch (const std::exception& e) {
    if (comm.size() > 1) comm.abort(e.what());
    std::fprintf(stderr, "dgc-train: %s\n", e.what());
  }
  return 1;
}
