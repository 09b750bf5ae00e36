// The op-by-op libtorch translation of the original DGC step (memory.compensate, _sparsify,
// memory.update). It is the test oracle of the fused kernel and the benchmark's baseline; it
// takes the same random draw so that both pick the same samples.
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "dgc/plan.h"
#include "sparsify_kernel.h"

namespace dgc::detail {

struct ReferenceSelection {
  torch::Tensor values;   // float32, before masking
  torch::Tensor indices;  // int64, in the order the original leaves them
  int adaptation_iters = 0;
  AdaptationExit adaptation_exit = AdaptationExit::kNone;
};

// Updates u and v (float32, numel elements) in place like the original and returns what it sends.
ReferenceSelection reference_step(const torch::Tensor& grad, torch::Tensor& momentum,
                                  torch::Tensor& velocity, const TensorPlan& plan,
                                  const StepParams& params, std::uint64_t draw);

}  // namespace dgc::detail
