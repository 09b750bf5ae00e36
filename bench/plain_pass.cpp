// dgc-bench-plain-pass: the momentum pass u = m*u + g; v += u over the 54 multi-dimensional
// tensors of ResNet-50 (25,502,912 elements) in a process of its own, without libtorch: a check
// that BM_Compress/floor, timed inside dgc-bench, does not understate what this machine can do.
// Same layout as there: one allocation per tensor, 4 gradient sets taken in turn. Two ways to
// share the tensors among the threads: each tensor split evenly (like BM_Compress/floor), or
// whole tensors handed out largest first (like compress_batch). Medians of 15 steps, three
// times per thread count.
// Usage: dgc-bench-plain-pass
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "resnet50_shapes.h"

namespace {

using Clock = std::chrono::steady_clock;

// Compiled for AVX2 too and chosen at load time, like the kernel's pass 1.
__attribute__((target_clones("avx2", "default"))) void momentum_pass(const float* g, float* u,
                                                                     float* v, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    u[i] = 0.9f * u[i] + g[i];
    v[i] += u[i];
  }
}

template <typename Fn>
double median_ms(int steps, Fn&& step) {
  std::vector<double> ms;
  for (int s = 0; s < steps; ++s) {
    const auto start = Clock::now();
    step(s);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::nth_element(ms.begin(), ms.begin() + steps / 2, ms.end());
  return ms[static_cast<std::size_t>(steps / 2)];
}

}  // namespace

int main() {
  std::vector<std::int64_t> sizes;
  for (const auto& t : dgc::bench::resnet50_shapes()) {
    if (t.shape.size() < 2) continue;
    std::int64_t n = 1;
    for (const std::int64_t d : t.shape) n *= d;
    sizes.push_back(n);
  }
  std::sort(sizes.rbegin(), sizes.rend());
  constexpr int kGradientSets = 4;
  std::vector<std::vector<float>> u, v, g[kGradientSets];
  for (const std::int64_t n : sizes) {
    u.emplace_back(static_cast<std::size_t>(n), 0.0f);
    v.emplace_back(static_cast<std::size_t>(n), 0.0f);
    for (auto& set : g) set.emplace_back(static_cast<std::size_t>(n), 1.0f);
  }
  const auto count = static_cast<std::int64_t>(sizes.size());

  std::printf("momentum pass over %zu tensors, ms per step (median of 15)\n", sizes.size());
  for (const int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (int round = 0; round < 3; ++round) {
      const double split = median_ms(15, [&](int step) {
        for (std::int64_t k = 0; k < count; ++k) {
          const auto t = static_cast<std::size_t>(k);
          const float* grad = g[step % kGradientSets][t].data();
#pragma omp parallel
          {
            const std::int64_t lo = sizes[t] * omp_get_thread_num() / omp_get_num_threads();
            const std::int64_t hi = sizes[t] * (omp_get_thread_num() + 1) / omp_get_num_threads();
            momentum_pass(grad + lo, u[t].data() + lo, v[t].data() + lo, hi - lo);
          }
        }
      });
      const double whole = median_ms(15, [&](int step) {
#pragma omp parallel for schedule(dynamic, 1)
        for (std::int64_t k = 0; k < count; ++k) {
          const auto t = static_cast<std::size_t>(k);
          momentum_pass(g[step % kGradientSets][t].data(), u[t].data(), v[t].data(), sizes[t]);
        }
      });
      std::printf("threads %d: each tensor split %.2f, whole tensors %.2f\n", threads, split,
                  whole);
    }
  }
}
