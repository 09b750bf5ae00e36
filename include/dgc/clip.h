// Per-tensor gradient clipping helpers (ALGORITHM.md section 8), the ones that need no
// communication. Clipping by global statistics lives with the distributed optimizer.
#pragma once

#include <torch/types.h>

#include "dgc/export.h"

namespace dgc {

// The factor that norm clipping multiplies `grad` by: max_norm / (||grad||_p + 1e-6) when that
// is below 1, else 1. norm_type is 2 or infinity. Computed in float like the original.
DGC_EXPORT float clip_coefficient(const torch::Tensor& grad, double max_norm,
                                  double norm_type = 2.0);

// Scales `grad` in place so that its p-norm is at most max_norm; returns the norm before.
DGC_EXPORT double clip_grad_norm_(torch::Tensor& grad, double max_norm, double norm_type = 2.0);

// Clamps `grad` in place to [-clip_value, clip_value].
DGC_EXPORT void clip_grad_value_(torch::Tensor& grad, double clip_value);

}  // namespace dgc
