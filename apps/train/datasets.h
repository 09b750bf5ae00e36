// The samples of a run's training or test split, whatever the dataset: in memory
// (fashion-mnist, cifar10, synthetic: input/tensor_source.h) or decoded from an ImageFolder tree
// as the loader asks (imagenet: input/image_folder_source.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dgc/communicator.h"
#include "input/sample_source.h"
#include "run_settings.h"

namespace dgc::train {

struct Split {
  std::shared_ptr<const SampleSource> samples;
  // Lines for the run's log: what was read, stray files left out, how long the scan took.
  std::vector<std::string> notes;
};

// Reads or scans the split. Collective: every rank calls it, the failures of any rank become one
// error on all (run_together), and the ranks must find the same data (the same file list, or
// the same images and labels): a host with another copy of the dataset is an error naming the
// ranks, not a silently different training.
Split open_split(const RunSettings& settings, bool train, Communicator& comm);

}  // namespace dgc::train
