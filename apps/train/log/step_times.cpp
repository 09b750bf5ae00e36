#include "log/step_times.h"

#include <algorithm>
#include <numeric>

#include "dgc/error.h"

namespace dgc::train {

StepTimeSummary summarize_step_times(std::vector<double> seconds) {
  DGC_CHECK(!seconds.empty(), "an epoch's step times: no steps to summarize");
  StepTimeSummary summary;
  const auto after_first = seconds.size() > 1 ? seconds.begin() + 1 : seconds.begin();
  summary.mean_seconds = std::accumulate(after_first, seconds.end(), 0.0) /
                         static_cast<double>(seconds.end() - after_first);
  const auto middle = seconds.begin() + static_cast<std::ptrdiff_t>(seconds.size() / 2);
  std::nth_element(seconds.begin(), middle, seconds.end());
  summary.median_seconds = *middle;
  return summary;
}

}  // namespace dgc::train
