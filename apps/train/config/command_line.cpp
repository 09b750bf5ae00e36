#include "config/command_line.h"

#include <algorithm>

#include "dgc/error.h"

namespace dgc::train {
namespace {

constexpr const char* kUsage =
    "usage: dgc-train --configs FILE... [--configs.KEY VALUE | KEY=VALUE]... [--suffix S] "
    "[--evaluate [--checkpoint NAME|FILE]] [--devices cpu] [--allow-changed KEY[,KEY...]|all]";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// An item like train.num_epochs=500; a path with '=' in a file name has a '/' before it.
bool is_override(const std::string& arg) {
  const std::size_t eq = arg.find('=');
  return eq != std::string::npos && eq > 0 && arg.find('/') > eq && arg[0] != '-';
}

}  // namespace

CommandLine parse_command_line(const std::vector<std::string>& args) {
  CommandLine out;
  bool in_configs = false;  // plain items after --configs are files
  std::size_t files_at_configs = 0;
  std::string last_configs_option;
  auto end_configs = [&] {
    if (in_configs) {
      DGC_CHECK(out.configs.size() > files_at_configs, "--configs needs at least one file; ",
                kUsage);
    }
    in_configs = false;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    // The value of `--name VALUE` or `--name=VALUE`.
    auto value_of = [&](const std::string& name) -> std::string {
      if (arg.size() > name.size() && arg[name.size()] == '=') return arg.substr(name.size() + 1);
      DGC_CHECK(i + 1 < args.size() && !starts_with(args[i + 1], "--"), name, " needs a value; ",
                kUsage);
      return args[++i];
    };
    auto is_option = [&](const std::string& name) {
      return arg == name || starts_with(arg, name + "=");
    };
    if (arg == "--configs") {
      end_configs();
      in_configs = true;
      files_at_configs = out.configs.size();
    } else if (starts_with(arg, "--configs.")) {
      end_configs();
      const std::size_t eq = arg.find('=');
      const std::string key = arg.substr(10, eq == std::string::npos ? eq : eq - 10);
      DGC_CHECK(!key.empty(), "'", arg, "' names no config key; ", kUsage);
      out.overrides.push_back(key + "=" + value_of("--configs." + key));
    } else if (is_option("--suffix")) {
      end_configs();
      out.suffix = value_of("--suffix");
    } else if (arg == "--evaluate") {
      end_configs();
      out.evaluate = true;
    } else if (is_option("--checkpoint")) {
      end_configs();
      out.checkpoint = value_of("--checkpoint");
      DGC_CHECK(!out.checkpoint.empty(), "--checkpoint needs a name or a file; ", kUsage);
    } else if (is_option("--devices")) {
      end_configs();
      out.devices = value_of("--devices");
      DGC_CHECK(out.devices == "cpu", "--devices ", out.devices,
                ": only cpu is supported (dgc-train runs on the CPU build of libtorch)");
    } else if (is_option("--allow-changed")) {
      end_configs();
      const std::string keys = value_of("--allow-changed");
      std::size_t start = 0;
      while (start <= keys.size()) {
        const std::size_t comma = std::min(keys.find(',', start), keys.size());
        const std::string key = keys.substr(start, comma - start);
        DGC_CHECK(!key.empty(), "--allow-changed '", keys, "' has an empty key; ", kUsage);
        out.allow_changed.push_back(key);
        start = comma + 1;
      }
    } else if (starts_with(arg, "-")) {
      DGC_FAIL("unknown option '", arg, "'; ", kUsage);
    } else if (is_override(arg)) {
      out.overrides.push_back(arg);
    } else {
      DGC_CHECK(in_configs, "unexpected argument '", arg, "' (config files go after --configs); ",
                kUsage);
      out.configs.push_back(arg);
    }
  }
  end_configs();
  DGC_CHECK(out.checkpoint.empty() || out.evaluate,
            "--checkpoint is for --evaluate (training resumes from its run directory); ", kUsage);
  return out;
}

CommandLine parse_command_line(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return parse_command_line(args);
}

}  // namespace dgc::train
