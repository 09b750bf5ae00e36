#include "dgc/options.h"

#include <algorithm>
#include <cmath>

#include "dgc/error.h"

namespace dgc {

void validate(const CompressorOptions& o) {
  DGC_CHECK(std::isfinite(o.compress_ratio) && o.compress_ratio > 0,
            "compress_ratio must be > 0, got ", o.compress_ratio);
  DGC_CHECK(o.sample_ratio > 0 && o.sample_ratio <= 1, "sample_ratio must be in (0, 1], got ",
            o.sample_ratio);
  DGC_CHECK(o.compress_lower_bound > 0 && o.compress_lower_bound <= 1,
            "compress_lower_bound must be in (0, 1], got ", o.compress_lower_bound);
  DGC_CHECK(std::isfinite(o.compress_upper_bound) && o.compress_upper_bound >= 1,
            "compress_upper_bound must be >= 1, got ", o.compress_upper_bound);
  DGC_CHECK(o.compress_lower_bound < o.compress_upper_bound, "compress_lower_bound (",
            o.compress_lower_bound, ") must be below compress_upper_bound (",
            o.compress_upper_bound, ")");
  DGC_CHECK(!(o.fp16_values && o.bf16_values),
            "fp16_values and bf16_values are both set; choose one value type");
  DGC_CHECK(o.max_adaptation_iters >= 0, "max_adaptation_iters must be >= 0, got ",
            o.max_adaptation_iters);
  if (o.warmup_epochs <= 0) return;
  if (const auto* list = std::get_if<std::vector<double>>(&o.warmup_coeff)) {
    DGC_CHECK(static_cast<std::int64_t>(list->size()) >= o.warmup_epochs, "warmup_coeff has ",
              list->size(), " values but warmup_epochs is ", o.warmup_epochs);
    for (std::size_t e = 0; e < list->size(); ++e) {
      DGC_CHECK((*list)[e] > 0 && (*list)[e] <= 1, "warmup_coeff[", e, "] must be in (0, 1], got ",
                (*list)[e]);
    }
  } else if (const auto* coeff = std::get_if<double>(&o.warmup_coeff)) {
    DGC_CHECK(*coeff > 0 && *coeff <= 1, "warmup_coeff must be in (0, 1], got ", *coeff);
  }
}

void validate(const MemoryOptions& o) {
  DGC_CHECK(std::isfinite(o.momentum) && o.momentum >= 0, "momentum must be >= 0, got ",
            o.momentum);
  const auto& clip = o.gradient_clipping;
  if (clip.kind == GradientClipping::Kind::kGlobalNorm) {
    DGC_CHECK(clip.max_norm > 0, "gradient_clipping.max_norm must be > 0, got ", clip.max_norm);
  } else if (clip.kind == GradientClipping::Kind::kNorm) {
    DGC_CHECK(clip.max_norm > 0, "gradient_clipping.max_norm must be > 0, got ", clip.max_norm);
    DGC_CHECK(clip.norm_type == 2.0 || std::isinf(clip.norm_type),
              "gradient_clipping.norm_type must be 2 or inf, got ", clip.norm_type);
  } else if (clip.kind == GradientClipping::Kind::kValue) {
    DGC_CHECK(clip.clip_value > 0, "gradient_clipping.clip_value must be > 0, got ",
              clip.clip_value);
  }
}

double base_compress_ratio(const CompressorOptions& o) {
  return o.compress_ratio <= 1.0 ? o.compress_ratio : 1.0 / o.compress_ratio;
}

double effective_sample_ratio(const CompressorOptions& o) {
  return std::clamp(o.sample_ratio, 0.01, 1.0);
}

}  // namespace dgc
