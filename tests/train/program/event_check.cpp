// event_check RUN_DIR TAG...: reads back the TensorBoard event files that dgc-train wrote into
// RUN_DIR with the tests' own reader (both CRCs of every record, the protobuf fields) and checks
// that they hold exactly the scalars of the run's metrics.csv, in the same order, and every TAG.
// A resumed run writes a second event file; all files in name order (their names start with the
// creation time), with TensorBoard's purge applied (a SessionLog START at step S drops the
// earlier events at S and later), must equal the one metrics.csv that both invocations wrote.
// Prints one line and exits 0 when everything matches, else prints what differs and exits 1.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "event_file_reader.h"

namespace {

using dgc::train::testing::Event;
using dgc::train::testing::read_event_file;

struct Scalar {
  std::int64_t step;
  std::string tag;
  float value;  // event files hold float32: the csv's double is compared after the same rounding
};

std::vector<Scalar> read_metrics_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string line;
  if (!std::getline(in, line) || line != "step,tag,value") {
    throw std::runtime_error(path + ": no step,tag,value header");
  }
  std::vector<Scalar> rows;
  while (std::getline(in, line)) {
    // The trainer's tags hold no commas, so the first and last commas split the row.
    const auto first = line.find(','), last = line.rfind(',');
    if (first == std::string::npos || first == last) {
      throw std::runtime_error(path + ": malformed row '" + line + "'");
    }
    rows.push_back({std::stoll(line.substr(0, first)), line.substr(first + 1, last - first - 1),
                    static_cast<float>(std::stod(line.substr(last + 1)))});
  }
  return rows;
}

std::vector<std::string> event_files(const std::string& run_dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir)) {
    if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<Scalar> read_scalars(const std::vector<std::string>& files) {
  std::vector<Scalar> scalars;
  for (const std::string& file : files) {
    const std::vector<Event> events = read_event_file(file);
    if (events.empty() || events.front().file_version != "brain.Event:2") {
      throw std::runtime_error(file + ": does not start with the file_version event");
    }
    for (const Event& event : events) {
      // TensorBoard's purge: a resumed run's SessionLog START at step S hides what earlier
      // events logged at S and later.
      if (event.session_start) {
        scalars.erase(std::remove_if(scalars.begin(), scalars.end(),
                                     [&](const Scalar& s) { return s.step >= event.step; }),
                      scalars.end());
      }
      for (const auto& [tag, value] : event.scalars) scalars.push_back({event.step, tag, value});
    }
  }
  return scalars;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: event_check RUN_DIR TAG...\n");
    return 2;
  }
  try {
    const std::string run_dir = argv[1];
    const std::vector<std::string> files = event_files(run_dir);
    if (files.empty()) throw std::runtime_error("no event file in " + run_dir);
    const std::vector<Scalar> events = read_scalars(files);
    const std::vector<Scalar> csv = read_metrics_csv(run_dir + "/metrics.csv");
    if (events.size() != csv.size()) {
      throw std::runtime_error("the event files hold " + std::to_string(events.size()) +
                               " scalars, metrics.csv " + std::to_string(csv.size()));
    }
    std::set<std::string> tags;
    for (std::size_t i = 0; i < csv.size(); ++i) {
      const Scalar &e = events[i], &c = csv[i];
      if (e.step != c.step || e.tag != c.tag || e.value != c.value) {
        throw std::runtime_error("scalar " + std::to_string(i) + " differs: event (" +
                                 std::to_string(e.step) + ", " + e.tag + ", " +
                                 std::to_string(e.value) + "), csv (" + std::to_string(c.step) +
                                 ", " + c.tag + ", " + std::to_string(c.value) + ")");
      }
      tags.insert(e.tag);
    }
    for (int i = 2; i < argc; ++i) {
      if (tags.count(argv[i]) == 0) throw std::runtime_error(std::string("no tag ") + argv[i]);
    }
    std::printf("event_check: %zu scalars in %zu event file(s) match metrics.csv\n", csv.size(),
                files.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "event_check: %s\n", e.what());
    return 1;
  }
}
