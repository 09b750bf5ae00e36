// Top-1 and top-5 accuracy on the test split, after every epoch of training and alone with
// `dgc-train --evaluate` (the seed's train.py --evaluate).
#pragma once

#include <memory>

#include "config/command_line.h"
#include "dgc/communicator.h"
#include "input/sample_source.h"
#include "models/registry.h"
#include "run_settings.h"

namespace dgc::train {

struct Accuracy {
  double top1 = 0, top5 = 0;  // percent
};

// The model's accuracy over the whole test split: each rank takes every world_size-th image (no
// padding, so nothing counts twice) and the counts are summed over ranks. Leaves the model in
// train mode. Collective.
Accuracy evaluate(const Model& model, const std::shared_ptr<const SampleSource>& test,
                  const RunSettings& settings, Communicator& comm);

// dgc-train --evaluate: the ranks load a checkpoint and evaluate it on the test split together;
// rank 0 prints the meters. Nothing is written and no directory is created. `--checkpoint`
// (default: best) is either a name (best, latest, e<N>): every rank loads its own file of that
// name from the run directory the config files name, so the result is the one training
// printed (batch norm's running statistics are each rank's own); or a file's path: rank 0 loads
// it and every rank receives its model. Returns the exit code; a missing or unusable checkpoint
// is a CollectiveFailure naming the file. Collective.
int run_evaluation(const CommandLine& command_line, Communicator& comm);

}  // namespace dgc::train
