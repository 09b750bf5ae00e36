#pragma once

#include <vector>

namespace dgc::train {

// An epoch's step times, as dgc-train logs them at the epoch's end.
struct StepTimeSummary {
  // The median of all steps: robust to this machine's outliers, but where Open MPI's transfers
  // alternate between a fast and a slow mode it lands on one of the two.
  double median_seconds = 0;
  // The mean of the steps after the first (the first allocates buffers and starts the loader;
  // with a single step, that step): what a sum of steps, such as the time to an accuracy, needs.
  double mean_seconds = 0;
};

// `seconds` must not be empty (an epoch without steps has no summary).
StepTimeSummary summarize_step_times(std::vector<double> seconds);

}  // namespace dgc::train
