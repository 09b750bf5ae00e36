// The compressor's exact semantics (ALGORITHM.md sections 4-5), the fused kernel against the
// op-by-op oracle, the wire types, the memory's state and its error paths.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "dgc/clip.h"
#include "dgc/compressor.h"
#include "dgc/error.h"
#include "reference_step.h"
#include "sparse_slots.h"
#include "sparsify_kernel.h"

namespace {

torch::Tensor floats(std::vector<float> v, std::vector<std::int64_t> shape) {
  return torch::tensor(v).reshape(shape);
}

std::vector<std::int64_t> as_indices(const torch::Tensor& t) {
  auto l = t.to(torch::kLong);
  return {l.data_ptr<std::int64_t>(), l.data_ptr<std::int64_t>() + l.numel()};
}
std::vector<float> as_floats(const torch::Tensor& t) {
  auto f = t.to(torch::kFloat).contiguous();
  return {f.data_ptr<float>(), f.data_ptr<float>() + f.numel()};
}

template <typename Fn>
void expect_error(const Fn& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no error, expected one mentioning: " << needle;
  } catch (const dgc::Error& e) {
    EXPECT_NE(e.message().find(needle), std::string::npos) << e.message();
  }
}

// 8 elements, ratio 0.25 (2 sent), every element sampled: the step is deterministic.
dgc::Compressor exact_compressor(bool nesterov, bool masking) {
  dgc::CompressorOptions o;
  o.compress_ratio = 0.25;
  o.sample_ratio = 1.0;
  dgc::MemoryOptions m;
  m.momentum = 0.5;
  m.nesterov = nesterov;
  m.momentum_masking = masking;
  dgc::Compressor c(o, m);
  c.add("w", {2, 4});
  return c;
}

const std::vector<float> kGrad1 = {1, -4, 2, 0.5, 3, -1, 0, 2};
const std::vector<float> kGrad2 = {0, 0, 0, 0, 2, 0, 0, 0};

void expect_step(dgc::Compressor& c, const std::vector<float>& grad,
                 std::vector<std::int64_t> indices, std::vector<float> values, std::vector<float> u,
                 std::vector<float> v) {
  const auto out = c.compress("w", floats(grad, {2, 4}));
  EXPECT_EQ(as_indices(out.indices), indices);
  EXPECT_EQ(as_floats(out.values), values);
  EXPECT_EQ(as_floats(c.memory().momentum("w")), u);
  EXPECT_EQ(as_floats(c.memory().velocity("w")), v);
}

TEST(ExactSemantics, PlainMomentumWithMasking) {
  auto c = exact_compressor(false, true);
  // u = g, v = g; the two largest |v| are -4 (index 1) and 3 (index 4).
  expect_step(c, kGrad1, {1, 4}, {-4, 3}, {1, 0, 2, 0.5, 0, -1, 0, 2}, {1, 0, 2, 0.5, 0, -1, 0, 2});
  // u = u/2 + g = [.5,0,1,.25,2,-.5,0,1]; v += u = [1.5,0,3,.75,2,-1.5,0,3]: 3 and 3.
  expect_step(c, kGrad2, {2, 7}, {3, 3}, {0.5, 0, 0, 0.25, 2, -0.5, 0, 0},
              {1.5, 0, 0, 0.75, 2, -1.5, 0, 0});
}

TEST(ExactSemantics, PlainMomentumWithoutMasking) {
  auto c = exact_compressor(false, false);
  expect_step(c, kGrad1, {1, 4}, {-4, 3}, kGrad1, {1, 0, 2, 0.5, 0, -1, 0, 2});
  // u = u/2 + g = [.5,-2,1,.25,3.5,-.5,0,1]; v = [1.5,-2,3,.75,3.5,-1.5,0,3]. The threshold is
  // the 2nd largest, 3, which three elements reach: the first two (indices 2 and 4) are sent.
  expect_step(c, kGrad2, {2, 4}, {3, 3.5}, {0.5, -2, 1, 0.25, 3.5, -0.5, 0, 1},
              {1.5, -2, 0, 0.75, 0, -1.5, 0, 3});
}

TEST(ExactSemantics, NesterovWithMasking) {
  auto c = exact_compressor(true, true);
  // u = g/2, v = u + g = 1.5 g: -6 and 4.5.
  expect_step(c, kGrad1, {1, 4}, {-6, 4.5}, {0.5, 0, 1, 0.25, 0, -0.5, 0, 1},
              {1.5, 0, 3, 0.75, 0, -1.5, 0, 3});
  // u = (u + g)/2 = [.25,0,.5,.125,1,-.25,0,.5]; v += u + g = [1.75,0,3.5,.875,3,-1.75,0,3.5].
  expect_step(c, kGrad2, {2, 7}, {3.5, 3.5}, {0.25, 0, 0, 0.125, 1, -0.25, 0, 0},
              {1.75, 0, 0, 0.875, 3, -1.75, 0, 0});
}

TEST(ExactSemantics, NesterovWithoutMasking) {
  auto c = exact_compressor(true, false);
  expect_step(c, kGrad1, {1, 4}, {-6, 4.5}, {0.5, -2, 1, 0.25, 1.5, -0.5, 0, 1},
              {1.5, 0, 3, 0.75, 0, -1.5, 0, 3});
  // u = (u + g)/2 = [.25,-1,.5,.125,1.75,-.25,0,.5]; v += u + g =
  // [1.75,-1,3.5,.875,3.75,-1.75,0,3.5]
  expect_step(c, kGrad2, {2, 4}, {3.5, 3.75}, {0.25, -1, 0.5, 0.125, 1.75, -0.25, 0, 0.5},
              {1.75, -1, 0, 0.875, 0, -1.75, 0, 3.5});
}

TEST(ExactSemantics, DecompressSumsAllRanksAndAverages) {
  auto c = exact_compressor(false, true);
  // Two ranks' selections, gathered: duplicates (index 1) add.
  const auto values = torch::tensor({-4.0f, 3.0f, 2.0f, 6.0f});
  const auto indices = torch::tensor({1L, 4L, 1L, 7L});
  const auto grad = c.decompress("w", values, indices, 2);
  EXPECT_EQ(grad.sizes(), (std::vector<std::int64_t>{2, 4}));
  EXPECT_EQ(as_floats(grad), (std::vector<float>{0, -1, 0, 0, 1.5, 0, 0, 3}));
}

TEST(ExactSemantics, DensePathAppliesMomentumAfterTheExchange) {
  dgc::MemoryOptions m;
  m.momentum = 0.5;
  dgc::Memory plain(m);
  plain.add("b", {4});
  const auto g = torch::tensor({2.0f, -2.0f, 4.0f, 0.0f});
  EXPECT_EQ(as_floats(plain.compensate_dense("b", g)), (std::vector<float>{2, -2, 4, 0}));
  EXPECT_EQ(as_floats(plain.compensate_dense("b", g)), (std::vector<float>{3, -3, 6, 0}));
  m.nesterov = true;
  dgc::Memory nesterov(m);
  nesterov.add("b", {4});
  // u = (0 + g)/2, out = u + g
  EXPECT_EQ(as_floats(nesterov.compensate_dense("b", g)), (std::vector<float>{3, -3, 6, 0}));
  EXPECT_EQ(as_floats(nesterov.momentum("b")), (std::vector<float>{1, -1, 2, 0}));
}

TEST(Compressor, OnlyMultiDimensionalTensorsAreSparse) {
  dgc::Compressor c;
  c.add_parameters(
      {{"conv.weight", torch::zeros({64, 3, 3, 3})}, {"conv.bias", torch::zeros({64})}});
  EXPECT_TRUE(c.is_sparse("conv.weight"));
  EXPECT_FALSE(c.is_sparse("conv.bias"));
  EXPECT_TRUE(c.memory().contains("conv.bias"));
  expect_error([&] { c.plan("conv.bias"); }, "tensor 'conv.bias' is not compressed");
  expect_error([&] { c.plan("fc.weight"); }, "tensor 'fc.weight' is not registered");
}

TEST(Compressor, WarmupChangesRatioAndPlans) {
  dgc::CompressorOptions o;
  o.warmup_epochs = 2;
  o.warmup_coeff = std::vector<double>{1.0, 0.1};
  dgc::Compressor c(o);
  std::vector<std::string> logged;
  c.set_logger([&](const std::string& s) { logged.push_back(s); });
  c.add("w", {100, 100});
  EXPECT_FALSE(c.is_sparse("w"));  // epoch 0: dense warm-up
  EXPECT_TRUE(c.set_epoch(1));
  EXPECT_TRUE(c.is_sparse("w"));
  EXPECT_EQ(c.plan("w").num_selects, 1000);
  EXPECT_FALSE(c.set_epoch(1));
  EXPECT_TRUE(c.set_epoch(2));
  EXPECT_EQ(c.plan("w").num_selects, 10);
  ASSERT_FALSE(logged.empty());
  EXPECT_NE(logged.front().find("update compress ratio: 0.1"), std::string::npos);
}

struct OracleCase {
  std::vector<std::int64_t> shape;
  double ratio;
  double sample_ratio;
  bool nesterov, masking, strided, resample;
  std::uint64_t seed;
};

// How often the oracle cases took each way through the adaptation.
struct OracleCoverage {
  int adapted = 0;             // steps in which the threshold was adapted
  std::array<int, 4> top_k{};  // steps by StepResult::top_k_from
};

// The kernel's selection (ws.selected / ws.values) against the oracle's, bitwise.
void expect_same_selection(const dgc::detail::Workspace& ws,
                           const dgc::detail::ReferenceSelection& ref) {
  auto ref_indices = as_indices(ref.indices);
  auto ref_values = as_floats(ref.values);
  if (ref.adaptation_exit == dgc::detail::AdaptationExit::kResampled) {
    // The oracle leaves topk's order; the fused kernel sorts. Compare as sets of pairs.
    std::vector<std::pair<std::int64_t, float>> pairs;
    for (std::size_t j = 0; j < ref_indices.size(); ++j)
      pairs.emplace_back(ref_indices[j], ref_values[j]);
    std::sort(pairs.begin(), pairs.end());
    for (std::size_t j = 0; j < pairs.size(); ++j)
      std::tie(ref_indices[j], ref_values[j]) = pairs[j];
  }
  EXPECT_EQ(ws.selected, ref_indices);
  EXPECT_EQ(ws.values, ref_values);
}

// Runs three steps of the fused kernel and of the oracle on the same data and draws, and checks
// the selections and the memory after every step.
void check_against_oracle(const OracleCase& k, int threads, OracleCoverage& coverage) {
  torch::manual_seed(k.seed);
  std::int64_t n = 1;
  for (auto d : k.shape) n *= d;
  const auto plan = dgc::make_plan(n, k.ratio, k.sample_ratio);
  dgc::detail::StepParams params;
  params.nesterov = k.nesterov;
  params.momentum_masking = k.masking;
  params.strided_sample = k.strided;
  params.resample = k.resample;
  auto u_fused = torch::zeros({n}), v_fused = torch::zeros({n});
  auto u_ref = torch::zeros({n}), v_ref = torch::zeros({n});
  dgc::detail::Workspace ws;
  at::set_num_threads(threads);
  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    // A heavy-tailed gradient, so that the sampled threshold is sometimes far off.
    const auto g = torch::randn({n}) * torch::rand({n}).pow(4) * 10;
    const std::uint64_t draw = dgc::detail::mix64(k.seed * 7919 + static_cast<std::uint64_t>(step));
    const auto fused =
        dgc::detail::sparsify_step(g.data_ptr<float>(), u_fused.data_ptr<float>(),
                                   v_fused.data_ptr<float>(), plan, params, draw, ws);
    const auto ref = dgc::detail::reference_step(g, u_ref, v_ref, plan, params, draw);
    EXPECT_FALSE(fused.non_finite);
    EXPECT_EQ(fused.adaptation_iters, ref.adaptation_iters);
    EXPECT_EQ(fused.adaptation_exit, ref.adaptation_exit);
    coverage.adapted += fused.adaptation_iters > 0;
    ++coverage.top_k[static_cast<std::size_t>(fused.top_k_from)];
    expect_same_selection(ws, ref);
    EXPECT_TRUE(torch::equal(u_fused, u_ref));
    EXPECT_TRUE(torch::equal(v_fused, v_ref));
  }
  at::set_num_threads(1);
}

void check_oracle_cases() {
  const std::vector<std::vector<std::int64_t>> shapes = {
      {3, 5}, {64, 9}, {10, 100}, {128, 64, 3, 3}, {1000, 37}, {256, 257, 3}};
  int cases = 0;
  OracleCoverage coverage;
  for (const auto& shape : shapes) {
    for (double ratio : {0.001, 0.01, 0.1}) {
      for (double sample_ratio : {0.01, 0.1, 1.0}) {
        for (int flags = 0; flags < 16; ++flags) {
          const OracleCase k{shape,
                             ratio,
                             sample_ratio,
                             (flags & 1) != 0,
                             (flags & 2) != 0,
                             (flags & 4) != 0,
                             (flags & 8) != 0,
                             static_cast<std::uint64_t>(cases)};
          SCOPED_TRACE(::testing::Message()
                       << "case " << cases << " numel " << c10::multiply_integers(shape)
                       << " ratio " << ratio << " sample " << sample_ratio << " flags " << flags);
          check_against_oracle(k, cases % 2 + 1, coverage);
          ++cases;
          if (::testing::Test::HasFailure()) return;
        }
      }
    }
  }
  EXPECT_EQ(cases, 6 * 3 * 3 * 16);
  EXPECT_GT(coverage.adapted, 50) << "the cases must exercise the threshold adaptation";
  using dgc::detail::TopKFrom;
  for (const auto from : {TopKFrom::kEntries, TopKFrom::kLines, TopKFrom::kBlocks}) {
    EXPECT_GT(coverage.top_k[static_cast<std::size_t>(from)], 5)
        << "the cases must exercise every way to the exact top-k (" << static_cast<int>(from)
        << ")";
  }
}

TEST(FusedKernel, MatchesTheOpByOpOracle) { check_oracle_cases(); }

TEST(FusedKernel, PortablePathMatchesTheOpByOpOracle) {
  const bool avx2 = dgc::detail::avx2_enabled();
  dgc::detail::set_avx2_enabled(false);
  EXPECT_FALSE(dgc::detail::avx2_enabled());
  check_oracle_cases();
  dgc::detail::set_avx2_enabled(avx2);
}

// The AVX2 variant of pass one exists only in x86-64 builds without DGC_PORTABLE_KERNEL
// (src/CMakeLists.txt), and runs only on a CPU that has AVX2, whatever the caller asks.
TEST(FusedKernel, Avx2OnlyWhereBuiltAndSupported) {
  const bool before = dgc::detail::avx2_enabled();
  dgc::detail::set_avx2_enabled(true);
#if DGC_HAVE_AVX2_KERNEL
  EXPECT_EQ(dgc::detail::avx2_enabled(), __builtin_cpu_supports("avx2") != 0);
#else
  EXPECT_FALSE(dgc::detail::avx2_enabled());
#endif
  dgc::detail::set_avx2_enabled(before);
}

// The two variants of pass one against each other, bit for bit, where the oracle cases do not
// go: clipping folded into the pass (scale, clamp), and a NaN.
TEST(FusedKernel, PortableAndAvx2PathsAgreeBitwise) {
  const bool before = dgc::detail::avx2_enabled();
  dgc::detail::set_avx2_enabled(true);
  if (!dgc::detail::avx2_enabled()) {
    GTEST_SKIP() << "no AVX2 variant here (build or CPU); the portable path alone is checked "
                    "against the oracle";
  }
  const auto bits = [](const torch::Tensor& t) { return t.view(torch::kInt32); };
  struct Clip {
    float scale, clamp;
  };
  at::set_num_threads(2);
  for (const std::int64_t n : {std::int64_t{256 * 40 + 77}, std::int64_t{300000}}) {
    const auto plan = dgc::make_plan(n, 0.01, 0.1);
    for (const bool nesterov : {false, true}) {
      for (const Clip clip : {Clip{1.0f, 0.0f}, Clip{0.5f, 0.0f}, Clip{0.7f, 0.3f}}) {
        SCOPED_TRACE(::testing::Message() << "n " << n << " nesterov " << nesterov << " scale "
                                          << clip.scale << " clamp " << clip.clamp);
        dgc::detail::StepParams params;
        params.nesterov = nesterov;
        params.grad_scale = clip.scale;
        params.grad_clamp = clip.clamp;
        torch::manual_seed(n + nesterov);
        std::array<torch::Tensor, 2> u = {torch::zeros({n}), torch::zeros({n})};
        std::array<torch::Tensor, 2> v = {torch::zeros({n}), torch::zeros({n})};
        std::array<dgc::detail::Workspace, 2> ws;
        for (int step = 0; step < 4; ++step) {
          auto g = torch::randn({n}) * torch::rand({n}).pow(4) * 10;
          // The last step carries a NaN in a whole block.
          if (step == 3) g[n / 3] = std::numeric_limits<float>::quiet_NaN();
          std::array<dgc::detail::StepResult, 2> result;
          for (int path = 0; path < 2; ++path) {
            dgc::detail::set_avx2_enabled(path == 1);
            result[path] = dgc::detail::sparsify_step(
                g.data_ptr<float>(), u[path].data_ptr<float>(), v[path].data_ptr<float>(), plan,
                params, 1000 + static_cast<std::uint64_t>(step), ws[path]);
          }
          EXPECT_EQ(result[0].non_finite, step == 3);
          EXPECT_EQ(result[0].non_finite, result[1].non_finite);
          EXPECT_EQ(result[0].adaptation_iters, result[1].adaptation_iters);
          EXPECT_EQ(result[0].adaptation_exit, result[1].adaptation_exit);
          EXPECT_EQ(ws[0].selected, ws[1].selected);
          EXPECT_TRUE(
              torch::equal(bits(torch::tensor(ws[0].values)), bits(torch::tensor(ws[1].values))));
          EXPECT_TRUE(torch::equal(bits(u[0]), bits(u[1])));
          EXPECT_TRUE(torch::equal(bits(v[0]), bits(v[1])));
        }
      }
    }
  }
  at::set_num_threads(1);
  dgc::detail::set_avx2_enabled(before);
}

// Every way out of the threshold adaptation (ALGORITHM.md section 4, step 5), each reached by a
// gradient built for it. The random cases above do not reach them all: never the one of issue 11.
namespace adaptation {

using dgc::detail::AdaptationExit;
using dgc::detail::TopKFrom;

constexpr std::int64_t kNumel = 512000;  // 2,000 blocks; split between 2 threads
constexpr double kRatio = 0.001;         // num_selects 512
constexpr std::uint64_t kDraw = 12345;

dgc::TensorPlan plan_of(double sample_ratio) {
  return dgc::make_plan(kNumel, kRatio, sample_ratio);
}

// The elements that strided sampling reads with kDraw, so that a gradient can show the threshold
// estimate what it wants to and hide the rest.
std::vector<std::int64_t> sampled(const dgc::TensorPlan& plan) {
  std::vector<std::int64_t> out;
  for (auto i = dgc::detail::strided_start(kDraw, plan.stride); i < plan.numel; i += plan.stride)
    out.push_back(i);
  return out;
}

// A gradient of `fill` (times a random factor in [1, 2) if `spread`: no ties, which topk and the
// kernel may break differently) with `value` written at `at`; every third element negative, so
// that the selection must look at |v|.
torch::Tensor gradient(float fill,
                       const std::vector<std::pair<std::vector<std::int64_t>, float>>& at,
                       bool spread = false) {
  torch::manual_seed(11);
  auto g = spread ? fill * (1 + torch::rand({kNumel})) : torch::full({kNumel}, fill);
  auto a = g.accessor<float, 1>();
  for (const auto& [indices, value] : at) {
    for (const auto i : indices) a[i] = value;
  }
  const auto sign = torch::where(torch::arange(kNumel) % 3 == 0, -1.0f, 1.0f);
  return g * sign;
}

std::vector<std::int64_t> first(const std::vector<std::int64_t>& v, std::size_t count) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(count)};
}

// Every element of [begin, end) with the given step.
std::vector<std::int64_t> every(std::int64_t step, std::int64_t begin, std::int64_t end) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = begin; i < end; i += step) out.push_back(i);
  return out;
}

struct Expected {
  AdaptationExit exit;
  int adaptation_iters;
  TopKFrom top_k_from;
  std::size_t sent;  // how many entries the step sends
};

// One step from zero memory, kernel and oracle on the same gradient and draw, plain and nesterov
// momentum, 1 and 2 threads: the exit taken, the selection and the memory afterwards, bitwise.
void check_exit(const torch::Tensor& g, const dgc::TensorPlan& plan,
                const dgc::detail::StepParams& base, const Expected& expected) {
  dgc::detail::Workspace ws;  // reused, as in training: nothing stale may leak into a step
  for (const bool nesterov : {false, true}) {
    for (const int threads : {1, 2}) {
      SCOPED_TRACE(::testing::Message() << "nesterov " << nesterov << " threads " << threads);
      auto params = base;
      params.nesterov = nesterov;
      auto u_fused = torch::zeros({kNumel}), v_fused = torch::zeros({kNumel});
      auto u_ref = torch::zeros({kNumel}), v_ref = torch::zeros({kNumel});
      at::set_num_threads(threads);
      const auto fused =
          dgc::detail::sparsify_step(g.data_ptr<float>(), u_fused.data_ptr<float>(),
                                     v_fused.data_ptr<float>(), plan, params, kDraw, ws);
      at::set_num_threads(1);
      const auto ref = dgc::detail::reference_step(g, u_ref, v_ref, plan, params, kDraw);
      EXPECT_FALSE(fused.non_finite);
      EXPECT_EQ(ref.adaptation_exit, expected.exit);
      EXPECT_EQ(fused.adaptation_exit, expected.exit);
      EXPECT_EQ(ref.adaptation_iters, expected.adaptation_iters);
      EXPECT_EQ(fused.adaptation_iters, expected.adaptation_iters);
      EXPECT_EQ(fused.top_k_from, expected.top_k_from);
      EXPECT_EQ(static_cast<std::size_t>(ref.indices.numel()), expected.sent);
      EXPECT_EQ(ws.selected.size(), expected.sent);
      expect_same_selection(ws, ref);
      EXPECT_TRUE(torch::equal(u_fused, u_ref));
      EXPECT_TRUE(torch::equal(v_fused, v_ref));
    }
  }
}

dgc::detail::StepParams with_resample(bool resample) {
  dgc::detail::StepParams params;
  params.resample = resample;
  return params;
}

// The plan these gradients are built for (sample_ratio 0.01): stride 97, a few thousand samples,
// a threshold at the 6th largest.
TEST(AdaptationExits, PlanIsTheOneTheGradientsAreBuiltFor) {
  const auto plan = plan_of(0.01);
  EXPECT_EQ(plan.num_selects, 512);
  EXPECT_LT(plan.num_samples, kNumel);
  EXPECT_LE(plan.top_k_samples, 384);
  EXPECT_GE(sampled(plan).size(), 512u);
  EXPECT_GT(plan.stride, 1);
}

// Issue 11. 384 outliers (< 0.8 * 512), all sampled, put the threshold far too high; the rest sit
// between 0.8^10 and 0.8^9 of it, so that the 10th and last lowering lets them all through at
// once. The original sends the first 512 at that threshold. The three layouts of the rest make
// the kernel count the blocks (the rest everywhere), the lines (one entry in each of 1,024 lines
// of 64 blocks) or the entries (1,024 in a row: 64 lines) that reach it; from blocks or lines it
// used to send the 384 entries collected at the previous threshold.
TEST(AdaptationExits, RunOutAboveTheBandAfterTheLastLowering) {
  const auto plan = plan_of(0.01);
  const auto outliers = first(sampled(plan), 384);
  const auto rest = static_cast<float>(std::pow(0.8, 9.5));
  const std::vector<std::pair<std::string, torch::Tensor>> layouts = {
      {"everywhere", gradient(rest, {{outliers, 1.0f}})},
      {"one per line",
       gradient(0.0f, {{every(16, 262144, 262144 + 16 * 1024), rest}, {outliers, 1.0f}})},
      {"in a row", gradient(0.0f, {{every(1, 262144, 262144 + 1024), rest}, {outliers, 1.0f}})},
  };
  for (const auto& [layout, g] : layouts) {
    for (const bool resample : {true, false}) {
      SCOPED_TRACE(::testing::Message() << layout << " resample " << resample);
      check_exit(g, plan, with_resample(resample),
                 {AdaptationExit::kRanOutAbove, 10, TopKFrom::kNone, 512});
    }
  }
}

// The samples all read 0.05 and everything else lies in [1, 2), beyond 1.3^10 times that: ten
// raises of the threshold leave all the rest above it. Without resample the first 512 are sent;
// with it, the exact top-k is taken at once. With max_adaptation_iters 0, resample has no chance.
TEST(AdaptationExits, RunOutAboveTheBandAfterTheLastRaiseOrResample) {
  const auto plan = plan_of(0.01);
  const auto g = gradient(1.0f, {{sampled(plan), 0.05f}}, /*spread=*/true);
  check_exit(g, plan, with_resample(false),
             {AdaptationExit::kRanOutAbove, 10, TopKFrom::kNone, 512});
  check_exit(g, plan, with_resample(true), {AdaptationExit::kResampled, 1, TopKFrom::kBlocks, 512});
  auto no_iterations = with_resample(true);
  no_iterations.max_adaptation_iters = 0;
  check_exit(g, plan, no_iterations, {AdaptationExit::kRanOutAbove, 0, TopKFrom::kNone, 512});
}

// 384 sampled outliers, the rest below 0.8^10 of them: ten lowerings are not enough, and the 384
// are all that is sent.
TEST(AdaptationExits, RunOutBelowTheBand) {
  const auto plan = plan_of(0.01);
  const auto g =
      gradient(static_cast<float>(std::pow(0.8, 11)), {{first(sampled(plan), 384), 1.0f}});
  for (const bool resample : {true, false}) {
    SCOPED_TRACE(::testing::Message() << "resample " << resample);
    check_exit(g, plan, with_resample(resample),
               {AdaptationExit::kRanOutBelow, 10, TopKFrom::kNone, 384});
  }
}

// Stops inside the band: at once (512 sampled outliers), after three lowerings (256 outliers and
// 256 at 0.8^2.5 of them, unsampled), and with a small excess that is accepted and cut to the
// first 512 (320 instead of 256 at 0.8^2.5).
TEST(AdaptationExits, StopInsideTheBand) {
  const auto plan = plan_of(0.01);
  const auto points = sampled(plan);
  const auto second = static_cast<float>(std::pow(0.8, 2.5));
  std::vector<std::int64_t> unsampled;
  for (const auto i : points) unsampled.push_back(i + 1);  // the stride is > 1
  for (const bool resample : {true, false}) {
    SCOPED_TRACE(::testing::Message() << "resample " << resample);
    check_exit(gradient(0.01f, {{first(points, 512), 1.0f}}), plan, with_resample(resample),
               {AdaptationExit::kInBand, 0, TopKFrom::kNone, 512});
    check_exit(gradient(0.01f, {{first(points, 256), 1.0f}, {first(unsampled, 256), second}}), plan,
               with_resample(resample), {AdaptationExit::kInBand, 3, TopKFrom::kNone, 512});
    check_exit(gradient(0.01f, {{first(points, 256), 1.0f}, {first(unsampled, 320), second}}), plan,
               with_resample(resample), {AdaptationExit::kInBand, 3, TopKFrom::kNone, 512});
  }
}

// Every element sampled (sample_ratio 1): the threshold is the exact 512th largest and nothing
// is adapted, even though far more than 1.3 * 512 elements reach it here.
TEST(AdaptationExits, NoAdaptationWhenEverythingIsSampled) {
  const auto plan = plan_of(1.0);
  ASSERT_EQ(plan.num_samples, kNumel);
  const auto g = gradient(static_cast<float>(std::pow(0.8, 9.5)),
                          {{first(sampled(plan_of(0.01)), 384), 1.0f}});
  for (const bool resample : {true, false}) {
    SCOPED_TRACE(::testing::Message() << "resample " << resample);
    check_exit(g, plan, with_resample(resample), {AdaptationExit::kNone, 0, TopKFrom::kNone, 512});
  }
}

}  // namespace adaptation

TEST(FusedKernel, ResultDoesNotDependOnThreadCount) {
  const std::int64_t n = 300000;
  const auto plan = dgc::make_plan(n, 0.001, 0.01);
  dgc::detail::StepParams params;
  torch::manual_seed(3);
  const auto g = torch::randn({n});
  std::vector<std::vector<std::int64_t>> selections;
  std::vector<torch::Tensor> velocities;
  for (int threads : {1, 2}) {
    at::set_num_threads(threads);
    auto u = torch::zeros({n}), v = torch::zeros({n});
    dgc::detail::Workspace ws;
    for (int step = 0; step < 2; ++step) {
      dgc::detail::sparsify_step(g.data_ptr<float>(), u.data_ptr<float>(), v.data_ptr<float>(),
                                 plan, params, 42 + step, ws);
    }
    selections.push_back(ws.selected);
    velocities.push_back(v);
  }
  at::set_num_threads(1);
  EXPECT_EQ(selections[0], selections[1]);
  EXPECT_FALSE(selections[0].empty());
  EXPECT_TRUE(torch::equal(velocities[0], velocities[1]));
}

TEST(Compressor, BatchEqualsOneTensorAtATime) {
  // Tensors large enough that the kernel would split them, some small: with 2 threads the batch
  // spreads the threads over tensors, and must give what compress_into gives in order.
  const std::vector<std::vector<std::int64_t>> shapes = {
      {256, 300}, {64, 9}, {512, 512}, {3, 40000}};
  dgc::CompressorOptions o;
  o.compress_ratio = 0.01;
  dgc::Compressor batch(o), single(o);
  for (std::size_t t = 0; t < shapes.size(); ++t) {
    batch.add("t" + std::to_string(t), shapes[t]);
    single.add("t" + std::to_string(t), shapes[t]);
  }
  at::set_num_threads(2);
  torch::manual_seed(5);
  for (int step = 0; step < 3; ++step) {
    std::vector<dgc::CompressJob> jobs;
    std::vector<std::vector<float>> values(shapes.size());
    std::vector<std::vector<std::int64_t>> indices(shapes.size());
    for (std::size_t t = 0; t < shapes.size(); ++t) {
      const std::string name = "t" + std::to_string(t);
      const auto capacity = static_cast<std::size_t>(batch.plan(name).num_selects);
      values[t].resize(capacity);
      indices[t].resize(capacity);
      jobs.push_back({name, torch::randn(shapes[t]), values[t].data(), indices[t].data(), 0});
    }
    batch.compress_batch(jobs);
    for (std::size_t t = 0; t < shapes.size(); ++t) {
      const auto expected = single.compress(jobs[t].name, jobs[t].grad);
      ASSERT_EQ(jobs[t].count, expected.indices.numel());
      EXPECT_EQ(std::vector<std::int64_t>(indices[t].begin(), indices[t].begin() + jobs[t].count),
                as_indices(expected.indices));
      EXPECT_EQ(std::vector<float>(values[t].begin(), values[t].begin() + jobs[t].count),
                as_floats(expected.values));
      EXPECT_TRUE(torch::equal(batch.memory().velocity(jobs[t].name),
                               single.memory().velocity(jobs[t].name)));
      EXPECT_TRUE(torch::equal(batch.memory().momentum(jobs[t].name),
                               single.memory().momentum(jobs[t].name)));
    }
  }
  at::set_num_threads(1);
}

TEST(Compressor, BatchReportsNonFiniteAfterFinishingTheOthers) {
  dgc::Compressor c;
  c.add("a", {300, 200});
  c.add("b", {300, 200});
  std::vector<float> va(60), vb(60);
  std::vector<std::int64_t> ia(60), ib(60);
  auto bad = torch::randn({300, 200});
  bad[0][0] = NAN;
  std::vector<dgc::CompressJob> jobs{{"a", bad, va.data(), ia.data(), 0},
                                     {"b", torch::randn({300, 200}), vb.data(), ib.data(), 0}};
  at::set_num_threads(2);
  expect_error([&] { c.compress_batch(jobs); },
               "a NaN or Inf entered the DGC memory of tensor 'a'");
  at::set_num_threads(1);
  EXPECT_EQ(c.memory().velocity("a").abs().sum().item<float>(), 0.0f);
  EXPECT_GT(jobs[1].count, 0);
  EXPECT_GT(c.memory().velocity("b").abs().sum().item<float>(), 0.0f);
  // A job without output buffers is refused before any memory changes.
  std::vector<dgc::CompressJob> unbuffered{{"b", torch::randn({300, 200}), nullptr, nullptr, 0}};
  const auto before = c.memory().velocity("b").clone();
  expect_error([&] { c.compress_batch(unbuffered); }, "no output buffers for 'b'");
  std::vector<dgc::CompressJob> twice{{"b", torch::randn({300, 200}), vb.data(), ib.data(), 0},
                                      {"b", torch::randn({300, 200}), va.data(), ia.data(), 0}};
  expect_error([&] { c.compress_batch(twice); }, "tensor 'b' appears twice in one batch");
  EXPECT_TRUE(torch::equal(before, c.memory().velocity("b")));
}

TEST(Wire, Fp16ValuesAndInt32IndicesRoundTrip) {
  dgc::CompressorOptions o;
  o.compress_ratio = 0.25;
  o.sample_ratio = 1.0;
  o.fp16_values = true;
  o.int32_indices = true;
  dgc::MemoryOptions m;
  m.momentum = 0.5;
  dgc::Compressor c(o, m);
  c.add("w", {2, 4});
  const auto out = c.compress("w", floats(kGrad1, {2, 4}));
  EXPECT_EQ(out.values.scalar_type(), torch::kHalf);
  EXPECT_EQ(out.indices.scalar_type(), torch::kInt);
  EXPECT_EQ(as_indices(out.indices), (std::vector<std::int64_t>{1, 4}));
  const auto grad = c.decompress("w", out.values, out.indices, 1);
  EXPECT_EQ(as_floats(grad), (std::vector<float>{0, -4, 0, 0, 3, 0, 0, 0}));
  // The wrong dtype is named.
  expect_error([&] { c.decompress("w", out.values.to(torch::kFloat), out.indices, 1); },
               "values received for 'w' must be 1-D Half");
}

TEST(Wire, OutOfRangeIndexIsAnErrorNotAWrite) {
  for (bool int32 : {false, true}) {
    dgc::CompressorOptions o;
    o.int32_indices = int32;
    dgc::Compressor c(o);
    c.add("layer.weight", {2, 4});
    const auto dtype = int32 ? torch::kInt : torch::kLong;
    const auto values = torch::tensor({1.0f, 2.0f});
    expect_error(
        [&] {
          c.decompress("layer.weight", values, torch::tensor({1, 8}).to(dtype), 2);
        },
        "received index 8 at position 1 for tensor 'layer.weight' of 8 elements");
    expect_error(
        [&] {
          c.decompress("layer.weight", values, torch::tensor({-1, 0}).to(dtype), 2);
        },
        "received index -1 at position 0");
    // The raw form leaves the output untouched.
    std::vector<float> out(8, 7.0f);
    const std::vector<std::int64_t> idx64 = {0, 1 << 20};
    const std::vector<std::int32_t> idx32 = {0, 1 << 20};
    const void* idx = int32 ? static_cast<const void*>(idx32.data()) : idx64.data();
    EXPECT_THROW(c.decompress_into("layer.weight", values.data_ptr<float>(), idx, 2, 1, out.data()),
                 dgc::Error);
    EXPECT_EQ(out, std::vector<float>(8, 7.0f));
  }
}

// The gathered form: every rank's slice; a bad index in any slice stops the decode before any
// write, and duplicates across ranks add.
TEST(Wire, SlicesOfAllRanksDecodeTogether) {
  dgc::Compressor c;
  c.add("layer.weight", {2, 4});
  const std::vector<float> values0 = {1.0f, 2.0f}, values1 = {4.0f};
  const std::vector<std::int64_t> indices0 = {0, 5}, indices1 = {5}, bad = {9};
  std::vector<float> out(8, 7.0f);
  c.decompress_into("layer.weight",
                    {{values0.data(), indices0.data(), 2}, {values1.data(), indices1.data(), 1}}, 2,
                    out.data());
  EXPECT_EQ(out, (std::vector<float>{0.5f, 0, 0, 0, 0, 3.0f, 0, 0}));
  // Not a power of two: the sum is multiplied by the rounded reciprocal, like the original.
  c.decompress_into("layer.weight",
                    {{values0.data(), indices0.data(), 2}, {values1.data(), indices1.data(), 1}}, 3,
                    out.data());
  const float third = static_cast<float>(1.0 / 3.0);
  EXPECT_EQ(out, (std::vector<float>{1.0f * third, 0, 0, 0, 0, (2.0f + 4.0f) * third, 0, 0}));
  std::fill(out.begin(), out.end(), 7.0f);
  expect_error(
      [&] {
        c.decompress_into("layer.weight",
                          {{values0.data(), indices0.data(), 2}, {values1.data(), bad.data(), 1}},
                          2, out.data());
      },
      "received index 9 at position 0 from rank 1 for tensor 'layer.weight' of 8 elements");
  EXPECT_EQ(out, std::vector<float>(8, 7.0f));
  const std::vector<float> none;
  expect_error(
      [&] {
        c.decompress_into(
            "layer.weight",
            {{values0.data(), indices0.data(), 2}, {none.data(), indices1.data(), -1}}, 2,
            out.data());
      },
      "negative entry count -1 from rank 1 for tensor 'layer.weight'");
  EXPECT_EQ(out, std::vector<float>(8, 7.0f));
}

// A bucket's gathered slots (sparse_slots.h) as BucketExchange::finish reads them: each rank's
// count is checked against the tensor's room before its entries are looked at, so a peer's count
// can never make the decoder read past its slot.
TEST(Wire, GatheredSlotsCheckEveryRanksCount) {
  for (const dgc::WireFormat wire : {dgc::WireFormat{false, false}, dgc::WireFormat{true, true}}) {
    const auto layout = dgc::detail::plan_sparse_slots({3, 1}, wire);
    ASSERT_EQ(layout.tensors.size(), 2u);
    for (const auto& t : layout.tensors) {
      EXPECT_EQ(t.index_offset % wire.index_bytes(), 0);
      EXPECT_EQ(t.value_offset % wire.value_bytes(), 0);
    }
    EXPECT_EQ(layout.bytes % 8, 0);
    EXPECT_GE(layout.bytes, layout.tensors[1].value_offset + wire.value_bytes());
    std::vector<std::uint8_t> gathered(static_cast<std::size_t>(layout.bytes) * 3, 0);
    const auto slot = [&](int r) { return gathered.data() + r * layout.bytes; };
    dgc::detail::write_slot_count(slot(0), 0, 3);
    dgc::detail::write_slot_count(slot(1), 0, 2);
    dgc::detail::write_slot_count(slot(2), 1, 1);
    const auto slices = dgc::detail::read_slices(gathered.data(), layout, 0, 3, "a");
    ASSERT_EQ(slices.size(), 3u);
    EXPECT_EQ(slices[0].count, 3);
    EXPECT_EQ(slices[1].count, 2);
    EXPECT_EQ(slices[2].count, 0);
    EXPECT_EQ(slices[1].indices, slot(1) + layout.tensors[0].index_offset);
    EXPECT_EQ(slices[1].values, slot(1) + layout.tensors[0].value_offset);
    dgc::detail::write_slot_count(slot(2), 1, 2);
    expect_error([&] { dgc::detail::read_slices(gathered.data(), layout, 1, 3, "b"); },
                 "rank 2 sent 2 entries for tensor 'b', which has room for 1");
    dgc::detail::write_slot_count(slot(1), 1, -5);
    expect_error([&] { dgc::detail::read_slices(gathered.data(), layout, 1, 3, "b"); },
                 "rank 1 sent -5 entries for tensor 'b', which has room for 1");
  }
}

TEST(Compressor, GlobalClippingNeedsTheDistributedStatistic) {
  dgc::MemoryOptions memory;
  memory.gradient_clipping.kind = dgc::GradientClipping::Kind::kGlobalNorm;
  memory.gradient_clipping.max_norm = 1.0;
  dgc::Compressor c({}, memory);
  c.add("fc.weight", {100, 50});
  expect_error(
      [&] {
        c.compress("fc.weight", torch::randn({100, 50}));
      },
      "clipping by global statistics needs the mean over ranks of sum(g^2) of "
      "'fc.weight'");
  memory.gradient_clipping.max_norm = 0;
  expect_error([&] { dgc::Compressor bad({}, memory); },
               "gradient_clipping.max_norm must be > 0, got 0");
}

TEST(Memory, NonFiniteGradientIsReportedWithTheTensorName) {
  dgc::Compressor c;
  c.add("fc.weight", {100, 50});
  auto g = torch::randn({100, 50});
  c.compress("fc.weight", g);
  g[3][7] = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { c.compress("fc.weight", g); },
               "a NaN or Inf entered the DGC memory of tensor 'fc.weight'");
  EXPECT_EQ(c.memory().velocity("fc.weight").abs().sum().item<float>(), 0.0f);
  g[3][7] = std::numeric_limits<float>::infinity();
  expect_error([&] { c.compress("fc.weight", g); }, "tensor 'fc.weight'");
  g[3][7] = 0;
  EXPECT_NO_THROW(c.compress("fc.weight", g));
  EXPECT_TRUE(torch::isfinite(c.memory().velocity("fc.weight")).all().item<bool>());
  dgc::Memory m;
  m.add("bn.bias", {4});
  expect_error(
      [&] {
        m.compensate_dense("bn.bias", torch::tensor({1.0f, NAN, 0.0f, 0.0f}));
      },
      "tensor 'bn.bias' (dense path)");
}

TEST(Memory, BadGradientsAreNamed) {
  dgc::Compressor c;
  c.add("w", {10, 10});
  expect_error(
      [&] {
        c.compress("w", torch::zeros({10, 9}));
      },
      "gradient of 'w' has 90 elements, the tensor has 100");
  expect_error(
      [&] {
        c.compress("w", torch::zeros({10, 10}, torch::kDouble));
      },
      "gradient of 'w' must be float32");
  expect_error([&] { c.add("w", {3}); }, "tensor 'w' is registered twice");
}

TEST(Memory, StateSavesAndLoadsExactly) {
  dgc::CompressorOptions o;
  o.compress_ratio = 0.01;
  dgc::Compressor a(o);
  a.add("w", {200, 100});
  a.add("b", {200});
  for (int i = 0; i < 3; ++i) {
    a.compress("w", torch::randn({200, 100}));
    a.compensate_dense("b", torch::randn({200}));
  }
  torch::serialize::OutputArchive out;
  a.save(out);
  const std::string path = ::testing::TempDir() + "/dgc_memory.pt";
  out.save_to(path);

  dgc::Compressor b(o);
  b.add("w", {200, 100});
  b.add("b", {200});
  torch::serialize::InputArchive in;
  in.load_from(path);
  b.load(in);
  for (const auto& name : {"w", "b"}) {
    EXPECT_TRUE(torch::equal(a.memory().momentum(name), b.memory().momentum(name)));
    EXPECT_TRUE(torch::equal(a.memory().velocity(name), b.memory().velocity(name)));
  }
  // Same sampling stream position: the next step matches exactly.
  const auto g = torch::randn({200, 100});
  EXPECT_TRUE(torch::equal(a.compress("w", g).indices, b.compress("w", g).indices));

  // A mismatching shape is named and leaves the memory as it was.
  dgc::Compressor wrong(o);
  wrong.add("w", {100, 200});
  wrong.add("b", {200});
  torch::serialize::InputArchive in2;
  in2.load_from(path);
  expect_error([&] { wrong.load(in2); }, "saved DGC memory of tensor 'w' has shape [200, 100]");
  EXPECT_EQ(wrong.memory().velocity("w").abs().sum().item<float>(), 0.0f);
  dgc::Compressor extra(o);
  extra.add("w", {200, 100});
  extra.add("fc.bias", {10});
  torch::serialize::InputArchive in3;
  in3.load_from(path);
  expect_error([&] { extra.load(in3); }, "the archive has no 'dgc.momentum.fc.bias'");
}

TEST(Clipping, NormAndValueClipFoldIntoTheStep) {
  for (auto kind : {dgc::GradientClipping::Kind::kNorm, dgc::GradientClipping::Kind::kValue}) {
    dgc::CompressorOptions o;
    o.compress_ratio = 0.25;
    o.sample_ratio = 1.0;
    dgc::MemoryOptions m;
    m.momentum = 0.5;
    m.gradient_clipping.kind = kind;
    m.gradient_clipping.max_norm = 1.0;
    m.gradient_clipping.clip_value = 1.5;
    dgc::Compressor c(o, m);
    c.add("w", {2, 4});
    auto g = floats(kGrad1, {2, 4});
    const auto original = g.clone();
    const auto out = c.compress("w", g);
    EXPECT_TRUE(torch::equal(g, original)) << "the caller's gradient must not change";
    auto clipped = original.clone();
    if (kind == dgc::GradientClipping::Kind::kNorm) {
      dgc::clip_grad_norm_(clipped, 1.0);
      EXPECT_NEAR(clipped.norm().item<float>(), 1.0f, 1e-5);
    } else {
      dgc::clip_grad_value_(clipped, 1.5);
      EXPECT_EQ(clipped.abs().max().item<float>(), 1.5f);
    }
    // First step: u = v = clipped g, then the sent entries are masked out of both.
    clipped = clipped.reshape(-1);
    EXPECT_TRUE(torch::equal(out.values, clipped.index_select(0, out.indices)));
    EXPECT_TRUE(
        torch::equal(c.memory().momentum("w").reshape(-1), clipped.index_fill(0, out.indices, 0)));
  }
}

}  // namespace
