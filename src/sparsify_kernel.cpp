// The kernel: the dispatch between pass one's instruction-set variants (sparsify_pass_one.h),
// the partial last block, and everything after pass one. Its variants' own files hold the only
// code built for a particular instruction set.
#include "sparsify_kernel.h"

#include <ATen/Parallel.h>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>

#include "sparsify_pass_one.h"

namespace dgc::detail {

namespace {

// A group of 16 blocks (4096 elements): the selection compares a group's 16 block maxima at once,
// and its threads take whole groups.
constexpr std::int64_t kBlocksPerGroup = 16;
// Pass 1 updates 4 blocks (1,024 elements: 12 KiB of g, u and v) at a time and then reads their
// strided samples, which are still in L1. After a whole group (48 KiB) they were not: reading
// them cost pass 1 ~1 ms per ResNet-50 step with 2 threads, 15-20% of it (docs/PERFORMANCE.md).
constexpr std::int64_t kBlocksPerPassStep = 4;

// Tensors below this many elements are done by the calling thread alone.
constexpr std::int64_t kParallelMin = 1 << 15;
// How many lines ahead the selection prefetches.
constexpr std::size_t kPrefetchAhead = 16;

// The last, partial block, element by element.
template <bool kNesterov>
bool update_tail(const PassOne& p, std::int64_t b) {
  bool finite = true;
  float block_best = 0.0f;
  for (std::int64_t line = b * kLinesPerBlock; line * kLine < p.n; ++line) {
    float best = 0.0f;
    for (std::int64_t i = line * kLine; i < std::min(p.n, (line + 1) * kLine); ++i) {
      float gi = clamp_grad(p.g[i], p.scale, p.lo, p.hi), ui = p.u[i], vi = p.v[i];
      update<kNesterov>(gi, ui, vi, p.m);
      p.u[i] = ui;
      p.v[i] = vi;
      const float a = std::fabs(vi);
      best = std::max(best, a);
      finite &= a <= FLT_MAX;
    }
    p.line_max[line] = best;
    block_best = std::max(block_best, best);
  }
  p.block_max[b] = block_best;
  return finite;
}

// DGC_HAVE_AVX2_KERNEL: the build has the AVX2 variant (x86-64, without DGC_PORTABLE_KERNEL;
// src/CMakeLists.txt). The CPU check is here, in code built for the baseline instruction set.
#if DGC_HAVE_AVX2_KERNEL
const bool kCpuHasAvx2 = __builtin_cpu_supports("avx2");
#else
constexpr bool kCpuHasAvx2 = false;
#endif
std::atomic<bool> g_use_avx2{kCpuHasAvx2};

template <bool kNesterov, bool kClip>
bool update_whole_blocks(const PassOne& p, std::int64_t b0, std::int64_t b1) {
#if DGC_HAVE_AVX2_KERNEL
  if (g_use_avx2.load(std::memory_order_relaxed))
    return update_blocks_avx2<kNesterov, kClip>(p, b0, b1);
#endif
  return update_blocks_portable<kNesterov, kClip>(p, b0, b1);
}

template <bool kNesterov>
bool update_range(const PassOne& p, std::int64_t b0, std::int64_t b1) {
  const std::int64_t whole = p.n / kBlock;
  const std::int64_t end = std::min(b1, whole);
  bool finite = p.clip ? update_whole_blocks<kNesterov, true>(p, b0, end)
                       : update_whole_blocks<kNesterov, false>(p, b0, end);
  if (b1 > whole) finite &= update_tail<kNesterov>(p, whole);
  return finite;
}

// Splits [0, count) into `chunks` contiguous ranges; chunk c is [begin(c), begin(c + 1)).
struct Chunking {
  std::int64_t count;
  std::int64_t chunks;
  std::int64_t begin(std::int64_t c) const { return count * c / chunks; }
};

std::int64_t chunks_for(std::int64_t n) {
  // Inside a parallel region (Compressor::compress_batch) every thread runs whole tensors.
  if (n < kParallelMin || at::in_parallel_region()) return 1;
  return std::max<std::int64_t>(1, at::get_num_threads());
}

// Runs fn(c) for every chunk c in [0, chunks), in parallel when chunks > 1.
template <typename Fn>
void for_each_chunk(std::int64_t chunks, const Fn& fn) {
  if (chunks == 1) {
    fn(0);
    return;
  }
  at::parallel_for(0, chunks, 1, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) fn(c);
  });
}

// Bit k set where p[k] >= thr (kAbs: |p[k]| >= thr), for 16 floats. Walking the set bits
// instead of branching on every element keeps the branch predictor out of the hot loops: hits
// are rare and random, so a branch per element or per line mispredicts constantly.
template <bool kAbs>
DGC_INLINE unsigned ge_mask16(const float* p, float thr) {
#if defined(__SSE2__)
  const __m128 t = _mm_set1_ps(thr);
  unsigned mask = 0;
  for (int q = 0; q < 4; ++q) {
    __m128 a = _mm_loadu_ps(p + 4 * q);
    if constexpr (kAbs) a = _mm_andnot_ps(_mm_set1_ps(-0.0f), a);
    mask |= static_cast<unsigned>(_mm_movemask_ps(_mm_cmpge_ps(a, t))) << (4 * q);
  }
  return mask;
#else
  unsigned mask = 0;
  for (int k = 0; k < 16; ++k)
    mask |= static_cast<unsigned>((kAbs ? std::fabs(p[k]) : p[k]) >= thr) << k;
  return mask;
#endif
}

// Finds the lines whose max reaches thr, from the maxima alone: each chunk's ascending, in its
// `lines` (ws.live_chunks of them, in index order). Returns how many there are.
std::int64_t find_lines(std::int64_t n, float thr, Workspace& ws) {
  const Chunking chunking{static_cast<std::int64_t>(ws.block_max.size()) / kBlocksPerGroup,
                          chunks_for(n)};
  // Grow only: shrinking would free the chunks' buffers, and reallocating them page-faults.
  if (ws.chunks.size() < static_cast<std::size_t>(chunking.chunks)) {
    ws.chunks.resize(static_cast<std::size_t>(chunking.chunks));
  }
  for_each_chunk(chunking.chunks, [&](std::int64_t c) {
    auto& lines = ws.chunks[static_cast<std::size_t>(c)].lines;
    lines.clear();
    for (std::int64_t group = chunking.begin(c); group < chunking.begin(c + 1); ++group) {
      const float* block_max = ws.block_max.data() + group * kBlocksPerGroup;
      for (unsigned blocks = ge_mask16<false>(block_max, thr); blocks != 0; blocks &= blocks - 1) {
        const std::int64_t b = group * kBlocksPerGroup + __builtin_ctz(blocks);
        const float* line_max = ws.line_max.data() + b * kLinesPerBlock;
        for (unsigned hit = ge_mask16<false>(line_max, thr); hit != 0; hit &= hit - 1) {
          lines.push_back(b * kLinesPerBlock + __builtin_ctz(hit));
        }
      }
    }
  });
  ws.live_chunks = chunking.chunks;
  std::int64_t count = 0;
  for (std::int64_t c = 0; c < chunking.chunks; ++c) {
    count += static_cast<std::int64_t>(ws.chunks[static_cast<std::size_t>(c)].lines.size());
  }
  return count;
}

// Reads the lines found by find_lines and keeps the indices i with |v_i| >= thr and their |v_i|,
// in each chunk's hits and magnitudes. The lines lie scattered over the tensor: they are
// prefetched ahead so that their misses overlap. Returns how many hits there are.
std::int64_t rescan_lines(const float* v, std::int64_t n, float thr, Workspace& ws) {
  const std::int64_t whole_lines = n / kLine;
  for_each_chunk(ws.live_chunks, [&](std::int64_t c) {
    auto& chunk = ws.chunks[static_cast<std::size_t>(c)];
    const auto& lines = chunk.lines;
    chunk.hits.clear();
    chunk.magnitudes.clear();
    for (std::size_t j = 0; j < lines.size(); ++j) {
      if (j + kPrefetchAhead < lines.size())
        __builtin_prefetch(v + lines[j + kPrefetchAhead] * kLine);
      const std::int64_t i0 = lines[j] * kLine;
      if (lines[j] < whole_lines) {
        for (unsigned mask = ge_mask16<true>(v + i0, thr); mask != 0; mask &= mask - 1) {
          const std::int64_t i = i0 + __builtin_ctz(mask);
          chunk.hits.push_back(i);
          chunk.magnitudes.push_back(std::fabs(v[i]));
        }
      } else {
        for (std::int64_t i = i0; i < n; ++i) {
          if (std::fabs(v[i]) >= thr) {
            chunk.hits.push_back(i);
            chunk.magnitudes.push_back(std::fabs(v[i]));
          }
        }
      }
    }
  });
  std::int64_t count = 0;
  for (std::int64_t c = 0; c < ws.live_chunks; ++c) {
    count += static_cast<std::int64_t>(ws.chunks[static_cast<std::size_t>(c)].hits.size());
  }
  return count;
}

// Calls fn(index, magnitude) for every candidate, in ascending index order.
template <typename Fn>
void for_each_candidate(const Workspace& ws, const Fn& fn) {
  for (std::int64_t c = 0; c < ws.live_chunks; ++c) {
    const auto& chunk = ws.chunks[static_cast<std::size_t>(c)];
    for (std::size_t j = 0; j < chunk.hits.size(); ++j) fn(chunk.hits[j], chunk.magnitudes[j]);
  }
}

DGC_INLINE std::uint32_t bits_of(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// The k-th largest candidate magnitude. Among many candidates, one pass histograms the top 16
// bits (magnitudes are non-negative, so their bit patterns order like their values; buckets are
// under 1% wide) to find the bucket that holds the k-th largest; only its members are ordered.
float kth_largest_magnitude(std::int64_t k, Workspace& ws) {
  std::int64_t candidates = 0;
  for (std::int64_t c = 0; c < ws.live_chunks; ++c)
    candidates += static_cast<std::int64_t>(ws.chunks[static_cast<std::size_t>(c)].hits.size());
  if (candidates <= 4 * k + 1024) {
    // Few candidates (the usual case, see keep_largest_by_lines): clearing the histogram would
    // cost more than ordering them.
    ws.top.clear();
    for_each_candidate(ws, [&](std::int64_t, float m) { ws.top.push_back(m); });
    const auto kth = ws.top.begin() + (k - 1);
    std::nth_element(ws.top.begin(), kth, ws.top.end(), std::greater<float>());
    return *kth;
  }
  constexpr std::uint32_t kBuckets = 1u << 15;  // the sign bit is 0
  ws.histogram.assign(kBuckets, 0);
  for_each_candidate(ws, [&](std::int64_t, float m) { ++ws.histogram[bits_of(m) >> 16]; });
  std::int64_t above = 0;
  std::uint32_t bucket = kBuckets - 1;
  for (; bucket > 0; --bucket) {
    if (above + ws.histogram[bucket] >= k) break;
    above += ws.histogram[bucket];
  }
  ws.top.clear();
  for_each_candidate(ws, [&](std::int64_t, float m) {
    if ((bits_of(m) >> 16) == bucket) ws.top.push_back(m);
  });
  const auto kth = ws.top.begin() + (k - above - 1);
  std::nth_element(ws.top.begin(), kth, ws.top.end(), std::greater<float>());
  return *kth;
}

// Selects the k candidates of largest |v| into ws.selected, ascending: everything above the
// k-th largest magnitude, then its ties in index order.
void keep_largest(std::int64_t k, Workspace& ws) {
  const float cut = kth_largest_magnitude(k, ws);
  std::int64_t ties = k;
  for_each_candidate(ws, [&](std::int64_t, float m) { ties -= m > cut; });
  ws.selected.clear();
  for_each_candidate(ws, [&](std::int64_t i, float m) {
    if (m > cut || (m == cut && ties-- > 0)) ws.selected.push_back(i);
  });
}

// How many blocks have a max that reaches thr: a lower bound of the count, since each of them
// holds at least one such entry, read from the block maxima alone (n / 256 floats).
std::int64_t count_blocks(float thr, const Workspace& ws) {
  std::int64_t blocks = 0;
  for (std::size_t group = 0; group < ws.block_max.size(); group += kBlocksPerGroup)
    blocks += __builtin_popcount(ge_mask16<false>(ws.block_max.data() + group, thr));
  return blocks;
}

// A lower bound of the k-th largest of some maxima (k <= their number), less than 1/16 of a
// power of two below it: a histogram of the maxima's top 12 bits (non-negative floats order like
// their bit patterns), far cheaper than ordering them. `for_each_max(add)` calls add(m) for each.
template <typename ForEachMax>
float kth_largest_max_bound(std::int64_t k, Workspace& ws, const ForEachMax& for_each_max) {
  constexpr int kShift = 19;  // keeps the exponent and 4 bits of mantissa
  ws.histogram.assign(1u << (31 - kShift), 0);
  for_each_max([&](float m) { ++ws.histogram[bits_of(m) >> kShift]; });
  std::int64_t above = 0;
  std::uint32_t bucket = static_cast<std::uint32_t>(ws.histogram.size()) - 1;
  for (; bucket > 0; --bucket) {
    above += ws.histogram[bucket];
    if (above >= k) break;
  }
  const std::uint32_t bits = bucket << kShift;
  float bound;
  std::memcpy(&bound, &bits, sizeof bound);
  return bound;
}

// keep_largest over every entry of the lines found by find_lines, when there are at least k of
// them, without reading most of those lines. At least k lines have a maximum >= `cut` (a lower
// bound of the k-th largest line maximum), so the k-th largest entry is >= cut, and the lines
// whose max reaches cut hold every entry top-k can pick: little more than k lines instead of all
// of them (after a lowered threshold, 10-40x as many, scattered over a tensor no longer in cache).
void keep_largest_by_lines(const float* v, std::int64_t n, std::int64_t k, Workspace& ws) {
  const float cut = kth_largest_max_bound(k, ws, [&](const auto& add) {
    for (std::int64_t c = 0; c < ws.live_chunks; ++c) {
      for (std::int64_t line : ws.chunks[static_cast<std::size_t>(c)].lines)
        add(ws.line_max[static_cast<std::size_t>(line)]);
    }
  });
  for (std::int64_t c = 0; c < ws.live_chunks; ++c) {
    auto& lines = ws.chunks[static_cast<std::size_t>(c)].lines;
    // Without a branch: which lines stay is random, and a branch per line mispredicted enough
    // to make this loop the selection's hottest (perf, 1 thread).
    std::size_t kept = 0;
    for (const std::int64_t line : lines) {
      lines[kept] = line;  // kept <= the current position: nothing unread is overwritten
      kept += ws.line_max[static_cast<std::size_t>(line)] >= cut;
    }
    lines.resize(kept);
  }
  rescan_lines(v, n, cut, ws);
  keep_largest(k, ws);
}

// keep_largest over every entry that reaches thr, when at least k blocks reach it, from the block
// maxima: at least k blocks have a max >= `cut` (a lower bound of the k-th largest block max), so
// the k-th largest entry is >= cut too. Only the lines whose max reaches cut are collected, a
// little more than k of them, instead of every line that reaches thr (9x as many, summed over the
// ResNet-50 benchmark's tensors), and the line maxima of most blocks are never read.
void keep_largest_by_blocks(const float* v, std::int64_t n, std::int64_t k, float thr,
                            Workspace& ws) {
  const float bound = kth_largest_max_bound(k, ws, [&](const auto& add) {
    for (const float m : ws.block_max) {
      if (m >= thr) add(m);  // the padding (-1) never does
    }
  });
  // The bound may round below thr; the top k of all entries reach thr all the same.
  const float cut = std::max(bound, thr);
  find_lines(n, cut, ws);
  rescan_lines(v, n, cut, ws);
  keep_largest(k, ws);
}

// The first `count` candidates into ws.selected.
void take_first(std::int64_t count, Workspace& ws) {
  ws.selected.clear();
  for (std::int64_t c = 0;
       c < ws.live_chunks && static_cast<std::int64_t>(ws.selected.size()) < count; ++c) {
    const auto& hits = ws.chunks[static_cast<std::size_t>(c)].hits;
    const auto take = std::min(hits.size(), static_cast<std::size_t>(count) - ws.selected.size());
    ws.selected.insert(ws.selected.end(), hits.begin(),
                       hits.begin() + static_cast<std::ptrdiff_t>(take));
  }
}

// The k-th largest sample (k >= 1). Usually k is a few dozen out of tens of thousands: a min-heap
// of the k largest seen so far costs one comparison per sample, far less than a selection.
float kth_largest(std::vector<float>& samples, std::int64_t k, std::vector<float>& heap) {
  const auto kk = static_cast<std::size_t>(k);
  if (kk > 256 || kk * 16 > samples.size()) {
    const auto kth = samples.begin() + (k - 1);
    std::nth_element(samples.begin(), kth, samples.end(), std::greater<float>());
    return *kth;
  }
  heap.assign(samples.begin(), samples.begin() + k);
  std::make_heap(heap.begin(), heap.end(), std::greater<float>());
  const auto offer = [&](float x) {
    if (x > heap.front()) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<float>());
      heap.back() = x;
      std::push_heap(heap.begin(), heap.end(), std::greater<float>());
    }
  };
  // Soon almost no sample beats the heap's least: 16 at a time are compared with it at once, and
  // only those that reach it are offered, in order, so the result is that of offering them all.
  std::size_t j = kk;
  for (; j + 16 <= samples.size(); j += 16) {
    for (unsigned hit = ge_mask16<false>(samples.data() + j, heap.front()); hit != 0;
         hit &= hit - 1) {
      offer(samples[j + static_cast<std::size_t>(__builtin_ctz(hit))]);
    }
  }
  for (; j < samples.size(); ++j) offer(samples[j]);
  return heap.front();
}

void gather_samples(const float* v, const TensorPlan& plan, const StepParams& params,
                    std::uint64_t draw, std::int64_t chunks, Workspace& ws) {
  const std::int64_t n = plan.numel;
  if (plan.num_samples == n) {
    ws.samples.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) ws.samples[static_cast<std::size_t>(i)] = std::fabs(v[i]);
    return;
  }
  // Strided samples were taken during the pass; uniform ones need the whole tensor updated.
  if (params.strided_sample) return;
  ws.samples.resize(static_cast<std::size_t>(plan.num_samples));
  const Chunking chunking{plan.num_samples, chunks};
  for_each_chunk(chunks, [&](std::int64_t c) {
    for (std::int64_t k = chunking.begin(c); k < chunking.begin(c + 1); ++k) {
      ws.samples[static_cast<std::size_t>(k)] = std::fabs(v[sample_index(draw, k, n)]);
    }
  });
}

}  // namespace

void set_avx2_enabled(bool enabled) { g_use_avx2 = enabled && kCpuHasAvx2; }
bool avx2_enabled() { return g_use_avx2; }

std::uint64_t mix64(std::uint64_t x) {
  // splitmix64's finalizer: a counter-based generator, so samples can be drawn in parallel and
  // the generator's whole state is one integer.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

StepResult sparsify_step(const float* grad, float* momentum, float* velocity,
                         const TensorPlan& plan, const StepParams& params, std::uint64_t draw,
                         Workspace& ws) {
  const std::int64_t n = plan.numel;
  const std::int64_t nblocks = (n + kBlock - 1) / kBlock;
  // Maxima padded to whole groups with -1, which no threshold (>= 0) reaches.
  const std::int64_t padded_blocks =
      (nblocks + kBlocksPerGroup - 1) / kBlocksPerGroup * kBlocksPerGroup;
  ws.line_max.resize(static_cast<std::size_t>(padded_blocks * kLinesPerBlock));
  ws.block_max.resize(static_cast<std::size_t>(padded_blocks));
  std::fill(ws.line_max.begin() + (n + kLine - 1) / kLine, ws.line_max.end(), -1.0f);
  std::fill(ws.block_max.begin() + nblocks, ws.block_max.end(), -1.0f);

  const bool sample_in_pass = plan.num_samples < n && params.strided_sample;
  const std::int64_t start = sample_in_pass ? strided_start(draw, plan.stride) : 0;
  if (sample_in_pass)
    ws.samples.resize(static_cast<std::size_t>(strided_count(n, start, plan.stride)));

  const float clamp =
      params.grad_clamp > 0 ? params.grad_clamp : std::numeric_limits<float>::infinity();
  const bool clip = params.grad_scale != 1.0f || params.grad_clamp > 0;
  const PassOne pass{grad,
                     momentum,
                     velocity,
                     n,
                     params.momentum,
                     params.grad_scale,
                     -clamp,
                     clamp,
                     clip,
                     ws.line_max.data(),
                     ws.block_max.data()};
  const Chunking chunking{nblocks, chunks_for(n)};
  std::atomic<bool> finite{true};
  for_each_chunk(chunking.chunks, [&](std::int64_t c) {
    const std::int64_t first = chunking.begin(c), last = chunking.begin(c + 1);
    // The chunk's first sample (number k, at element i); later ones follow every stride.
    const std::int64_t lo = first * kBlock;
    std::int64_t k =
        !sample_in_pass || lo <= start ? 0 : (lo - start + plan.stride - 1) / plan.stride;
    std::int64_t i = start + k * plan.stride;
    for (std::int64_t b = first; b < last; b += kBlocksPerPassStep) {
      const std::int64_t b_end = std::min(b + kBlocksPerPassStep, last);
      const bool ok = params.nesterov ? update_range<true>(pass, b, b_end)
                                      : update_range<false>(pass, b, b_end);
      if (!ok) finite.store(false, std::memory_order_relaxed);
      if (!sample_in_pass) continue;
      for (const std::int64_t hi = std::min(n, b_end * kBlock); i < hi; i += plan.stride, ++k) {
        ws.samples[static_cast<std::size_t>(k)] = std::fabs(velocity[i]);
      }
    }
  });

  StepResult result;
  ws.selected.clear();
  ws.values.clear();
  if (!finite.load()) {
    result.non_finite = true;
    return result;
  }

  gather_samples(velocity, plan, params, draw, chunking.chunks, ws);
  float thr = kth_largest(ws.samples, plan.top_k_samples, ws.top);

  const std::int64_t target = plan.num_selects;
  const bool adapt = n > plan.num_samples;
  // With resampling, a threshold that more than upper * target blocks or lines reach leads
  // straight to the exact top-k, which keep_largest_by_blocks / _by_lines find without collecting
  // the entries that reach it; the number of blocks or lines then stands in for the count, which
  // is at least as large. Blocks are counted first: their maxima are 16x fewer than the lines'.
  const bool may_resample = adapt && params.resample;
  const auto beyond_upper = [&](std::int64_t count) {
    return may_resample && static_cast<double>(count) > static_cast<double>(target) * params.upper;
  };
  TopKFrom collected = TopKFrom::kEntries;
  auto count_at = [&](float t) {
    const std::int64_t blocks = may_resample ? count_blocks(t, ws) : 0;
    if (beyond_upper(blocks)) {
      collected = TopKFrom::kBlocks;
      return blocks;
    }
    const std::int64_t lines = find_lines(n, t, ws);
    collected = beyond_upper(lines) ? TopKFrom::kLines : TopKFrom::kEntries;
    return collected == TopKFrom::kLines ? lines : rescan_lines(velocity, n, t, ws);
  };
  std::int64_t count = count_at(thr);
  if (adapt) {
    // Adapt the threshold until the count falls in [lower, upper] * target (section 4, step 5).
    for (int it = 0; it < params.max_adaptation_iters; ++it) {
      if (count > target) {
        if (static_cast<double>(count) <= static_cast<double>(target) * params.upper) break;
        if (params.resample) {
          if (collected == TopKFrom::kBlocks) {
            keep_largest_by_blocks(velocity, n, target, thr, ws);
          } else if (collected == TopKFrom::kLines) {
            keep_largest_by_lines(velocity, n, target, ws);
          } else {
            keep_largest(target, ws);
          }
          result.top_k_from = collected;
          result.adaptation_iters = it + 1;
          break;
        }
        thr = thr * static_cast<float>(params.upper);
      } else if (static_cast<double>(count) < params.lower * static_cast<double>(target)) {
        thr = thr * static_cast<float>(params.lower);
      } else {
        break;
      }
      count = count_at(thr);
      result.adaptation_iters = it + 1;
    }
    if (result.top_k_from != TopKFrom::kNone) {
      result.adaptation_exit = AdaptationExit::kResampled;
    } else if (static_cast<double>(count) > static_cast<double>(target) * params.upper) {
      result.adaptation_exit = AdaptationExit::kRanOutAbove;
    } else if (static_cast<double>(count) < params.lower * static_cast<double>(target)) {
      result.adaptation_exit = AdaptationExit::kRanOutBelow;
    } else {
      result.adaptation_exit = AdaptationExit::kInBand;
    }
    // Out of iterations with more than upper * target over thr (the last lowering let them all
    // through): the original sends the first `target` of them. count_at may have counted only the
    // blocks or lines that reach thr, and then the collected entries are those of an earlier,
    // higher threshold, fewer than lower * target (issue 11). Rare: collecting them all is fine.
    if (result.adaptation_exit == AdaptationExit::kRanOutAbove && collected != TopKFrom::kEntries) {
      if (collected == TopKFrom::kBlocks) find_lines(n, thr, ws);
      count = rescan_lines(velocity, n, thr, ws);
    }
  }

  // Send at most `target` (the first ones), then take what was sent out of the residual. Each
  // thread masks the entries of the range it updated, whose lines its own cache still holds.
  if (result.top_k_from == TopKFrom::kNone) take_first(std::min(count, target), ws);
  ws.values.resize(ws.selected.size());
  for_each_chunk(chunking.chunks, [&](std::int64_t c) {
    const auto first =
        std::lower_bound(ws.selected.begin(), ws.selected.end(), chunking.begin(c) * kBlock);
    const auto last = std::lower_bound(first, ws.selected.end(), chunking.begin(c + 1) * kBlock);
    const auto end = static_cast<std::size_t>(last - ws.selected.begin());
    for (auto j = static_cast<std::size_t>(first - ws.selected.begin()); j < end; ++j) {
      if (j + kPrefetchAhead < end) {
        __builtin_prefetch(velocity + ws.selected[j + kPrefetchAhead], /*rw=*/1);
        if (params.momentum_masking)
          __builtin_prefetch(momentum + ws.selected[j + kPrefetchAhead], 1);
      }
      const std::int64_t i = ws.selected[j];
      ws.values[j] = velocity[i];
      velocity[i] = 0.0f;
      if (params.momentum_masking) momentum[i] = 0.0f;
    }
  });
  return result;
}

}  // namespace dgc::detail
