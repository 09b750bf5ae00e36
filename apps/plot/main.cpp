// dgc-plot: the learning curves of dgc-train runs, dense baseline against DGC, in one PNG.
// Usage errors exit 2, any other error 1; either way --out is left as it was.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "dgc/error.h"
#include "figure.h"
#include "metrics.h"
#include "png.h"

namespace {

using namespace dgc::plot;

constexpr const char* kUsage =
    "usage: dgc-plot --out PNG RUN_DIR [RUN_DIR...] [--label NAME ...] [--title TEXT]\n"
    "                [--width W] [--height H]\n"
    "Draws the training loss and test top-1 of dgc-train runs (each a directory with\n"
    "metrics.csv) against epochs. --label, once per run in order, replaces the directory name.";

struct Options {
  std::string out;
  std::vector<std::string> run_dirs;
  std::vector<std::string> labels;
  FigureOptions figure;
  bool help = false;
};

int parse_side(const std::string& option, const std::string& text) {
  int value = 0;
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  DGC_CHECK(!text.empty() && result.ec == std::errc() && result.ptr == end, option,
            " needs a whole number of pixels, got '", text, "'");
  DGC_CHECK(value >= kMinSide && value <= kMaxSide, option, " ", value, " is outside ", kMinSide,
            "..", kMaxSide);
  return value;
}

Options parse_args(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&] {
      DGC_CHECK(i + 1 < argc, arg, " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--out") {
      options.out = value();
    } else if (arg == "--label") {
      options.labels.push_back(value());
    } else if (arg == "--title") {
      options.figure.title = value();
    } else if (arg == "--width") {
      options.figure.width = parse_side(arg, value());
    } else if (arg == "--height") {
      options.figure.height = parse_side(arg, value());
    } else if (arg == "-h" || arg == "--help") {
      options.help = true;
    } else {
      DGC_CHECK(arg.empty() || arg[0] != '-', "unknown option ", arg);
      options.run_dirs.push_back(arg);
    }
  }
  if (options.help) return options;
  DGC_CHECK(!options.out.empty(), "missing --out PNG");
  DGC_CHECK(!options.run_dirs.empty(), "no run directory given");
  DGC_CHECK(options.labels.empty() || options.labels.size() == options.run_dirs.size(),
            "--label given ", options.labels.size(), " times for ", options.run_dirs.size(),
            " run directories");
  return options;
}

// "label: top-1 final 91.02%, best 91.30% -> out.png"
std::string summary_line(const RunCurves& run, const std::string& out) {
  double best = -std::numeric_limits<double>::infinity();
  for (const Point& point : run.top1) best = std::max(best, point.y);
  char numbers[96];
  std::snprintf(numbers, sizeof numbers, ": top-1 final %.2f%%, best %.2f%% -> ", run.top1.back().y,
                best);
  return run.label + numbers + out;
}

int run(const Options& options) {
  std::vector<RunCurves> runs;
  for (std::size_t i = 0; i < options.run_dirs.size(); ++i) {
    const std::string& dir = options.run_dirs[i];
    runs.push_back(load_run(dir, options.labels.empty() ? run_label(dir) : options.labels[i]));
  }
  write_png(options.out, draw_figure(runs, options.figure).canvas);
  for (const RunCurves& run : runs) std::cout << summary_line(run, options.out) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_args(argc, argv);
  } catch (const dgc::Error& e) {
    std::cerr << "dgc-plot: " << e.message() << "\n" << kUsage << "\n";
    return 2;
  }
  if (options.help) {
    std::cout << kUsage << "\n";
    return 0;
  }
  try {
    return run(options);
  } catch (const dgc::Error& e) {
    std::cerr << "dgc-plot: " << e.message() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "dgc-plot: " << e.what() << "\n";
  }
  return 1;
}
