// Settings of the DGC compressor and its memory (ALGORITHM.md sections 2, 6 and 8).
//
// Plain structs with the original's defaults, so fields can be added without breaking callers.
// validate() is called by the Compressor constructor; it throws dgc::Error naming the field.
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "dgc/export.h"

namespace dgc {

// Sparsity warm-up coefficient (ALGORITHM.md section 6): absent, one number, or one ratio per
// epoch.
using WarmupCoeff = std::variant<std::monostate, double, std::vector<double>>;

struct CompressorOptions {
  // Fraction of elements sent per compressed tensor; a value > 1 means 1/value.
  double compress_ratio = 0.001;
  // Fraction sampled to estimate the threshold. Must be in (0, 1]; values below 0.01 are raised
  // to 0.01 like the original.
  double sample_ratio = 0.01;
  // Strided sampling from a random start; false samples uniformly with replacement.
  bool strided_sample = true;
  // Accepted band for the number of selected elements relative to the target; 0 < lower <= 1 <=
  // upper.
  double compress_upper_bound = 1.3;
  double compress_lower_bound = 0.8;
  // Threshold adjustments at most, per tensor and step.
  int max_adaptation_iters = 10;
  // When far too many pass, take the exact top-k among them instead of raising the threshold.
  bool resample = true;
  // Wire types: fp16 or bf16 values instead of fp32 (at most one of the two), int32 indices
  // instead of int64 (the raw format only: include/dgc/wire.h).
  bool fp16_values = false;
  bool bf16_values = false;
  bool int32_indices = false;
  // Sparsity warm-up: epochs < warmup_epochs use a larger ratio (<= 0 disables it).
  int warmup_epochs = -1;
  WarmupCoeff warmup_coeff;
  // Seed of the sampling random stream; ranks may share it (the choice of samples does not need
  // to differ between ranks, and a fixed seed makes runs reproducible).
  std::uint64_t seed = 0;
};

// Clipping of a compressed tensor's local gradient before momentum correction (section 8).
// The two global kinds use statistics over all ranks: they work under DistributedOptimizer, which
// allreduces each tensor's sum(g^2) (a Compressor used alone rejects them).
struct GradientClipping {
  enum class Kind {
    kNone,
    kNorm,         // scale g so that ||g||_p <= max_norm (approximately, +1e-6)
    kValue,        // clamp g to [-clip_value, clip_value]
    kGlobalNorm,   // norm clip with ||g|| = sqrt(mean over ranks of sum(g^2))
    kGlobalValue,  // clamp g to +-sqrt(mean over ranks of sum(g^2))
  };
  Kind kind = Kind::kNone;
  double max_norm = 0.0;    // kNorm, kGlobalNorm
  double norm_type = 2.0;   // kNorm: p, 2 or infinity
  double clip_value = 0.0;  // kValue

  bool needs_global_statistics() const {
    return kind == Kind::kGlobalNorm || kind == Kind::kGlobalValue;
  }
};

struct MemoryOptions {
  // Momentum of the correction (the optimizer's momentum in the original).
  double momentum = 0.9;
  bool nesterov = false;
  // Clear the momentum of sent elements as well as their residual.
  bool momentum_masking = true;
  GradientClipping gradient_clipping;
};

// Throws dgc::Error naming the first invalid field.
DGC_EXPORT void validate(const CompressorOptions& options);
DGC_EXPORT void validate(const MemoryOptions& options);

// compress_ratio with the "> 1 means 1/value" rule applied.
DGC_EXPORT double base_compress_ratio(const CompressorOptions& options);
// sample_ratio clamped to [0.01, 1] like the original.
DGC_EXPORT double effective_sample_ratio(const CompressorOptions& options);

}  // namespace dgc
