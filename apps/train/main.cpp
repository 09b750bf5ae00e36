// dgc-train: the seed's train.py in C++. Started like the seed's:
//   mpirun -np 2 build/bin/dgc-train --configs configs/fmnist/convnet.yaml configs/dgc/wm5.yaml
//       --configs.train.num_epochs 6 --suffix .e6
// Any failure prints one line and ends the whole job (the other ranks would wait forever).
#include <cstdio>
#include <exception>

#include "config/command_line.h"
#include "dgc/communicator.h"
#include "dgc/error.h"
#include "trainer.h"

int main(int argc, char** argv) {
  dgc::train::CommandLine command_line;
  try {
    command_line = dgc::train::parse_command_line(argc, argv);
  } catch (const dgc::Error& e) {
    std::fprintf(stderr, "dgc-train: %s\n", e.message().c_str());
    return 2;
  }
  dgc::Communicator comm;
  try {
    return dgc::train::run_training(command_line, comm);
  } catch (const dgc::Error& e) {
    if (comm.size() > 1) comm.abort(e.message());
    std::fprintf(stderr, "dgc-train: %s\n", e.message().c_str());
  } catch (const std::exception& e) {
    if (comm.size() > 1) comm.abort(e.what());
    std::fprintf(stderr, "dgc-train: %s\n", e.what());
  }
  return 1;
}
