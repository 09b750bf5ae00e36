// dgc-train's run, top to bottom (ALGORITHM.md section 9): config, data, model, optimizer,
// resume, then per epoch the sparsity warm-up, the training steps, evaluation and a checkpoint.
// Collective: every rank calls it with the same command line.
#pragma once

#include "config/command_line.h"
#include "dgc/communicator.h"

namespace dgc::train {

// Returns the process exit code. Throws dgc::Error on bad input (config, data files).
int run_training(const CommandLine& command_line, Communicator& comm);

}  // namespace dgc::train
