// Reading the metrics.csv that dgc-train writes into a run directory.
//
// The file is `step,tag,value` then one row per scalar: step is the number of training inputs
// seen, the tag is RFC-4180 quoted when it holds a comma, quote or newline. A resumed run may log
// a (tag, step) pair again; its last row wins.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dgc::plot {

struct Sample {
  std::int64_t step = 0;
  double value = 0;
};
// Per tag, its samples in increasing step order, one per step.
using Metrics = std::map<std::string, std::vector<Sample>>;

// Parses the metrics.csv at `path`; errors name the file and line.
Metrics read_metrics(const std::string& path);

struct Point {
  double x = 0, y = 0;
};

// What the figure shows of one run, against epochs.
struct RunCurves {
  std::string label;
  std::vector<Point> loss;  // loss/train
  std::vector<Point> top1;  // acc/test_top1, in percent
};

// The run in directory `dir`. The per-epoch tags are logged at the end of each epoch, so the
// first acc/test_top1 step is the number of inputs per epoch, and x = step / that.
RunCurves load_run(const std::string& dir, const std::string& label);

// The default label of a run: the last component of its directory, e.g. "[a+b].e8.np4".
std::string run_label(const std::string& dir);

}  // namespace dgc::plot
