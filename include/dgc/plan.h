// Per-tensor sampling and selection plan (ALGORITHM.md section 3).
//
// Pure arithmetic, no state: the same inputs give the same plan on every rank.
#pragma once

#include <cstdint>

#include "dgc/export.h"

namespace dgc {

struct TensorPlan {
  std::int64_t numel = 0;
  std::int64_t stride = 1;         // sampling stride
  std::int64_t num_samples = 0;    // samples that estimate the threshold
  std::int64_t top_k_samples = 0;  // the threshold is the top_k_samples-th largest sample
  std::int64_t num_selects = 0;    // elements sent at most
  // True when the tensor is so small that it is sampled whole (numel <= ceil(2 / ratio)).
  bool tiny = false;
};

// ratio in (0, 1); sample_ratio in [0.01, 1] (already clamped).
DGC_EXPORT TensorPlan make_plan(std::int64_t numel, double ratio, double sample_ratio);

}  // namespace dgc
