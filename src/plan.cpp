#include "dgc/plan.h"

#include <algorithm>
#include <cmath>

#include "dgc/error.h"

namespace dgc {

namespace {
std::int64_t ceil_to_int(double x) { return static_cast<std::int64_t>(std::ceil(x)); }
}  // namespace

TensorPlan make_plan(std::int64_t numel, double ratio, double sample_ratio) {
  DGC_CHECK(numel > 0, "cannot plan a tensor of ", numel, " elements");
  DGC_CHECK(ratio > 0 && ratio < 1, "a plan needs a ratio in (0, 1), got ", ratio);
  TensorPlan plan;
  plan.numel = numel;
  plan.stride = 1;
  plan.num_samples = numel;
  if (sample_ratio < 1.0) {
    // The sample must hold at least ~2 expected selections so that the k-th largest sample is
    // a meaningful threshold; hence the 2 / ratio floor next to the sampling fraction.
    const std::int64_t pct = ceil_to_int(static_cast<double>(numel) * sample_ratio);
    // Compared as a double first: a tiny ratio (1e-300 passes validate()) makes 2 / ratio far
    // larger than any int64, and converting it would be undefined behaviour.
    const double cpr = std::ceil(2.0 / ratio);
    if (static_cast<double>(numel) <= cpr) {
      plan.tiny = true;
    } else {
      const std::int64_t want = std::max(pct, static_cast<std::int64_t>(cpr));
      // An odd stride (a multiple of 32, plus 1) keeps the samples from lining up with the
      // tensor's inner dimensions, which are mostly powers of two.
      plan.stride =
          ceil_to_int(static_cast<double>(numel) / static_cast<double>(want) / 32.0) * 32 + 1;
      plan.num_samples = numel / plan.stride;
      while (plan.num_samples < want) {
        plan.stride -= 8;
        plan.num_samples = numel / plan.stride;
      }
    }
  }
  plan.top_k_samples = ceil_to_int(static_cast<double>(plan.num_samples) * ratio);
  plan.num_selects = ceil_to_int(static_cast<double>(numel) * ratio);
  return plan;
}

}  // namespace dgc
