// libFuzzer target: dgc-train's config loader and what it feeds. A fuzzed YAML file and
// command line go through parse_command_line, load_config (files merged against the schema
// configs/default.yaml, overrides), run_name and to_yaml, then read_settings; settings that pass
// are then used the way dgc-train uses them first: the learning-rate schedule, and a DGC
// compressor that registers a few tensors, walks its warm-up epochs and compresses a gradient.
// A value that passes the checks must not reach undefined behaviour later.
//
// Input: [YAML file] NUL [argument] NUL [argument] ...
// The file is written as configs/fuzz.yaml in a copy of the real configs/ tree; the arguments
// are dgc-train's command line without the program name. Files named after --configs are
// looked up in that copy (names with ".." are dropped) and loaded before the fuzzed file.
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/command_line.h"
#include "config/config.h"
#include "dgc/compressor.h"
#include "dgc/error.h"
#include "fuzz_support.h"
#include "run_settings.h"
#include "schedule/lr_schedule.h"

namespace {

namespace fs = std::filesystem;
using dgc::fuzz::Bytes;

const fs::path& configs_copy() {
  static const fs::path root = [] {
    const fs::path dir = dgc::fuzz::scratch_dir() / "configs";
    fs::copy(fs::path(DGC_SOURCE_DIR) / "configs", dir, fs::copy_options::recursive);
    return dir;
  }();
  return root;
}

// The settings used as dgc-train uses them first (trainer.cpp).
void use(dgc::train::RunSettings s) {
  s.schedule.world_size = 4;
  dgc::train::check_lr_schedule_options(s.schedule);
  for (std::int64_t epoch : {std::int64_t{0}, s.num_epochs / 2, s.num_epochs - 1}) {
    dgc::train::learning_rate(s.schedule, epoch, 0, 10);
  }
  dgc::Compressor compressor(s.compressor, s.memory);
  const std::vector<std::vector<std::int64_t>> shapes = {{16, 3, 3, 3}, {10, 64}, {3, 1}, {10}};
  for (std::size_t t = 0; t < shapes.size(); ++t)
    compressor.add("t" + std::to_string(t), shapes[t]);
  const int last = std::max(0, std::min(s.compressor.warmup_epochs, 8) + 1);
  for (int epoch = 0; epoch <= last; ++epoch) {
    compressor.set_epoch(epoch);
    for (std::size_t t = 0; t < shapes.size(); ++t) {
      const std::string name = "t" + std::to_string(t);
      if (!compressor.is_sparse(name)) continue;
      const auto& plan = compressor.plan(name);
      const auto grad = torch::linspace(-1, 1, plan.numel).reshape(shapes[t]);
      std::vector<std::uint8_t> values(static_cast<std::size_t>(plan.num_selects) * 4);
      std::vector<std::uint8_t> indices(static_cast<std::size_t>(plan.num_selects) * 8);
      std::vector<dgc::CompressJob> jobs{{name, grad, values.data(), indices.data(), 0}};
      jobs[0].global_square_mean = grad.square().sum().item<float>();
      compressor.compress_batch(jobs);
    }
  }
}

Bytes text_seed(const std::string& yaml, const std::vector<std::string>& args) {
  Bytes out(yaml.begin(), yaml.end());
  for (const std::string& arg : args) {
    out.push_back(0);
    out.insert(out.end(), arg.begin(), arg.end());
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dgc::fuzz::write_seeds_if_asked([](const auto& seed) {
    // Every real config as the fuzzed file, then a few command lines.
    for (const auto& entry :
         fs::recursive_directory_iterator(fs::path(DGC_SOURCE_DIR) / "configs")) {
      if (!entry.is_regular_file()) continue;
      std::ostringstream text;
      text << std::ifstream(entry.path()).rdbuf();
      std::string name = fs::relative(entry.path(), fs::path(DGC_SOURCE_DIR) / "configs").string();
      std::replace(name.begin(), name.end(), '/', '-');
      seed("file-" + name, text_seed(text.str(), {}));
    }
    seed("args-dgc", text_seed("train:\n  num_epochs: 3\n",
                               {"--configs", "dgc/wm5.yaml", "fmnist/convnet.yaml",
                                "train.compression.fp16_values=true", "--suffix", ".x"}));
    seed("args-override", text_seed("", {"--configs.train.compression.compress_ratio", "0.01",
                                         "train.dgc=true", "--evaluate", "--devices=cpu"}));
    // Inputs that once reached undefined behaviour (tests/test_plan_warmup.cpp).
    seed("regression-tiny-ratio",
         text_seed("train:\n  dgc: true\n  compression:\n    compress_ratio: 1.0e-300\n", {}));
    seed("regression-warmup-int-max",
         text_seed("train:\n  compression:\n    warmup_epochs: 2147483647\n", {}));
    seed("clipping", text_seed("train:\n  dgc: true\n  compression:\n    memory:\n"
                               "      gradient_clipping: {kind: global_norm, max_norm: 1.0}\n",
                               {"train.schedule.name=multistep"}));
  });
  configs_copy();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::uint8_t* end = data + size;
  const std::uint8_t* nul = std::find(data, end, std::uint8_t{0});
  const fs::path file = configs_copy() / "fuzz.yaml";
  dgc::fuzz::write_file(file, data, static_cast<std::size_t>(nul - data));
  std::vector<std::string> args;
  for (const std::uint8_t* p = nul; p != end;) {
    const std::uint8_t* next = std::find(p + 1, end, std::uint8_t{0});
    args.emplace_back(p + 1, next);
    p = next;
  }
  try {
    const auto command_line = dgc::train::parse_command_line(args);
    std::vector<std::string> files;
    for (const std::string& name : command_line.configs) {
      // Only the copy's own files: no absolute paths, no way up.
      if (fs::path(name).is_absolute() || name.find("..") != std::string::npos) continue;
      std::error_code ec;
      if (fs::is_regular_file(configs_copy() / name, ec)) {
        files.push_back((configs_copy() / name).string());
      }
    }
    files.push_back(file.string());
    const auto config = dgc::train::load_config(files, command_line.overrides);
    dgc::train::run_name(files, command_line.suffix, 4);
    config.to_yaml();
    use(dgc::train::read_settings(config));
  } catch (const dgc::Error&) {
    // The loader's one way of saying no.
  }
  return 0;
}
