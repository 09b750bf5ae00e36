#include "dgc/clip.h"

#include <cmath>

#include "dgc/error.h"

namespace dgc {

namespace {
torch::Tensor norm_of(const torch::Tensor& grad, double norm_type) {
  DGC_CHECK(norm_type == 2.0 || std::isinf(norm_type), "norm_type must be 2 or inf, got ",
            norm_type);
  return std::isinf(norm_type) ? grad.abs().max() : grad.norm(2);
}

float coefficient_from(const torch::Tensor& norm, double max_norm) {
  const float coef = (max_norm / (norm + 1e-6)).item<float>();
  return coef < 1.0f ? coef : 1.0f;
}
}  // namespace

float clip_coefficient(const torch::Tensor& grad, double max_norm, double norm_type) {
  return coefficient_from(norm_of(grad, norm_type), max_norm);
}

double clip_grad_norm_(torch::Tensor& grad, double max_norm, double norm_type) {
  const auto norm = norm_of(grad, norm_type);
  const float coef = coefficient_from(norm, max_norm);
  if (coef < 1.0f) grad.mul_(coef);
  return norm.item<double>();
}

void clip_grad_value_(torch::Tensor& grad, double clip_value) {
  DGC_CHECK(clip_value > 0, "clip_value must be > 0, got ", clip_value);
  grad.clamp_(-clip_value, clip_value);
}

}  // namespace dgc
