// What training and evaluation start alike with: the config read and checked on every rank, the
// run's directory name, the threads, and a freshly built model.
#pragma once

#include <string>

#include "config/command_line.h"
#include "config/config.h"
#include "dgc/communicator.h"
#include "models/registry.h"
#include "run_settings.h"

namespace dgc::train {

struct RunSetup {
  Config config;
  RunSettings settings;
  std::string run_dir;  // <logging.runs_dir>/<name from the config files, suffix, world size>
};

// Loads the config of `command_line` and checks it; installs its stall check on `comm` and sets
// the intra-op threads of this rank. Collective: a bad config is one error on every rank.
RunSetup set_up_run(const CommandLine& command_line, Communicator& comm);

// The settings' model, initialized from the seed: the same on every rank.
Model build_model(const RunSettings& settings);

}  // namespace dgc::train
