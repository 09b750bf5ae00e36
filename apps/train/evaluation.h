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

// dgc-train --evaluate: rank 0 loads the run's best checkpoint (best-r0.pt in the run directory
// the config files name) or `command_line.checkpoint`, every rank receives its model, and the
// ranks evaluate it on the test split together. Rank 0 prints the meters; nothing is written
// and no directory is created. Returns the exit code; a missing or unusable checkpoint is a
// CollectiveFailure naming the file. Collective.
int run_evaluation(const CommandLine& command_line, Communicator& comm);

}  // namespace dgc::train
