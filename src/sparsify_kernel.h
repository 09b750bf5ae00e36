// The fused local DGC step on raw float buffers (ALGORITHM.md sections 4 and 5, DESIGN.md
// "How it must perform"). Internal: the Compressor is the public face.
//
// One parallel pass updates the memory (momentum correction + accumulation), records the max
// of |v| over every cache line (16 floats) and every 256-element block, and picks up the
// threshold samples while the data is in cache. The selection then walks the block maxima, the
// line maxima of the blocks that reach the threshold, and rescans only those lines, prefetched
// ahead since they are scattered. The result does not depend on the number of threads.
#pragma once

#include <cstdint>
#include <vector>

#include "dgc/plan.h"

namespace dgc::detail {

constexpr std::int64_t kLine = 16;    // floats per 64-byte cache line
constexpr std::int64_t kBlock = 256;  // elements per block (16 lines)

struct StepParams {
  float momentum = 0.9f;
  bool nesterov = false;
  bool momentum_masking = true;
  // Local clipping folded into the pass: g' = clamp(g * grad_scale, -grad_clamp, grad_clamp).
  float grad_scale = 1.0f;
  float grad_clamp = 0.0f;  // 0 = no clamp
  bool strided_sample = true;
  double upper = 1.3;
  double lower = 0.8;
  int max_adaptation_iters = 10;
  bool resample = true;
};

// Scratch reused across calls so that the hot path does not allocate in steady state.
struct Workspace {
  std::vector<float> line_max;
  std::vector<float> block_max;
  std::vector<float> top;                // the k-th largest searches
  std::vector<std::uint32_t> histogram;  // of candidate magnitudes
  std::vector<float> samples;
  // One per thread's share of the tensor; cache-line aligned, since the threads grow their
  // vectors concurrently and vector headers sharing a line made every push a coherence miss.
  struct alignas(64) Chunk {
    std::vector<std::int64_t> lines;
    std::vector<std::int64_t> hits;
    std::vector<float> magnitudes;
  };
  std::vector<Chunk> chunks;
  std::int64_t live_chunks = 0;  // chunks holding the last selection's candidates, in order
  std::vector<std::int64_t> selected;
  std::vector<float> values;
};

// Where the exact top-k (resample) found its candidates: among the entries that reach the
// threshold, or from the maxima of the lines or blocks that do, without collecting those entries.
enum class TopKFrom { kNone, kEntries, kLines, kBlocks };

// How the threshold adaptation (ALGORITHM.md section 4, step 5) ended, told by where the final
// count lies against the band [lower, upper] * num_selects. Only a loop that used up
// max_adaptation_iters can end outside it.
enum class AdaptationExit {
  kNone,         // no adaptation: every element was a sample (n <= num_samples)
  kInBand,       // accepted: within the band, however the loop got there
  kResampled,    // more than upper * num_selects reached the threshold: the exact top-k
  kRanOutAbove,  // more than upper * num_selects after the last adjustment: the first ones
  kRanOutBelow,  // fewer than lower * num_selects after the last adjustment: all of them
};

// Outcome of one step; the selected indices (ascending) and their values before masking are in
// ws.selected / ws.values.
struct StepResult {
  bool non_finite = false;  // a NaN or Inf reached u or v; nothing was selected
  int adaptation_iters = 0;
  TopKFrom top_k_from = TopKFrom::kNone;  // kNone: no exact top-k was needed
  AdaptationExit adaptation_exit = AdaptationExit::kNone;
};

// `draw` is the step's random number: the strided start is draw % stride, uniform sample k is
// sample_index(draw, k, n).
StepResult sparsify_step(const float* grad, float* momentum, float* velocity,
                         const TensorPlan& plan, const StepParams& params, std::uint64_t draw,
                         Workspace& ws);

// Pass one runs 8-lane AVX2 code where the build has it (x86-64 without DGC_PORTABLE_KERNEL) and
// the CPU has it, 4-lane code otherwise; both give bitwise the same result. The tests switch AVX2
// off to cover the portable path on any machine; switching it on where it is missing does nothing.
void set_avx2_enabled(bool enabled);
bool avx2_enabled();

std::uint64_t mix64(std::uint64_t x);
inline std::int64_t sample_index(std::uint64_t draw, std::int64_t k, std::int64_t n) {
  return static_cast<std::int64_t>(mix64(draw + static_cast<std::uint64_t>(k)) %
                                   static_cast<std::uint64_t>(n));
}
inline std::int64_t strided_start(std::uint64_t draw, std::int64_t stride) {
  return static_cast<std::int64_t>(mix64(draw) % static_cast<std::uint64_t>(stride));
}
// Samples taken by the strided slice v[start::stride].
inline std::int64_t strided_count(std::int64_t n, std::int64_t start, std::int64_t stride) {
  return (n - start + stride - 1) / stride;
}

}  // namespace dgc::detail
