// dgc-train's command line, in the seed's form:
//   --configs a.yaml b.yaml ...        config files, merged in this order
//   --configs.train.num_epochs 500     an override (also --configs.train.num_epochs=500)
//   train.num_epochs=500               an override, anywhere
//   --suffix .e500                     appended to the run directory's name
//   --evaluate                         evaluate the run's best checkpoint instead of training
//   --checkpoint NAME|FILE             with --evaluate: the run's latest or e<N>, or a file
//   --devices cpu                      the only device this build supports
//   --allow-changed KEY[,KEY...]|all   resume although these settings differ from the checkpoint's
// Options also take --name=value. Overrides are returned as "key=value" in the order given, for
// load_config. Anything else (an unknown option, a missing value, --configs without files, a
// file outside --configs, --devices other than cpu) is a dgc::Error saying what and why.
#pragma once

#include <string>
#include <vector>

namespace dgc::train {

struct CommandLine {
  std::vector<std::string> configs;
  std::vector<std::string> overrides;  // "key=value"
  std::string suffix;
  bool evaluate = false;
  std::string checkpoint;  // --evaluate only; empty: the run's best (evaluation.h)
  std::string devices = "cpu";
  // Dotted config keys (or "all") whose change since the checkpoint a resume accepts.
  std::vector<std::string> allow_changed;
};

// `args` excludes the program name.
CommandLine parse_command_line(const std::vector<std::string>& args);
CommandLine parse_command_line(int argc, const char* const* argv);

}  // namespace dgc::train
