// The `powersgd` hook under a real launcher (a world of one, mpirun -np 2 and -np 4), driven
// directly as the DistributedOptimizer drives it (every bucket's run() in bucket order, then every
// finish()): against a reference written op by op below with plain torch ops, which computes
// every rank's gradient and so the expected P, Q, output and error of every step; its traffic; a
// gradient of zeros; its checkpoint and the errors of a bad one; the ranks' agreement; bad
// options. The bitwise-identical ranks and exact resume under a model are in test_comm_hooks.cpp
// (EveryHook).
#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "dgc/error.h"
#include "dgc/hooks/allreduce_hook.h"
#include "dgc/hooks/powersgd_hook.h"
#include "error_of.h"
#include "mpi_test.h"

namespace {

using dgc::test::comm;
using testing::HasSubstr;

// Two buckets: a matrix worth compressing, a bias, a matrix too small to be worth it; a 4-D
// tensor (6 x 18 as a matrix) and a 5 x 7 matrix that is worth it at rank 1 only.
const std::vector<dgc::HookTensor> kTensors = {
    {"fc.weight", {8, 12}, 96},         {"fc.bias", {8}, 8},         {"small.weight", {3, 4}, 12},
    {"conv.weight", {6, 2, 3, 3}, 108}, {"head.weight", {5, 7}, 35},
};
const std::vector<std::vector<std::size_t>> kBuckets = {{0, 1, 2}, {3, 4}};

// Rank r's gradient of tensor t at a step: every rank can compute every rank's.
torch::Tensor rank_gradient(int rank, int step, std::size_t t) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7919 * step + 101 * rank + t + 1);
  return torch::randn(kTensors[t].shape, generator, torch::kFloat);
}

// ---- The reference: PowerSGD as PyTorch 1.13's powerSGD_hook computes it, op by op, for every
// rank at once (the header's departures included: vectors never compressed, the errors of the
// uncompressed tensors zero, a column of norm 0 zeroed, the hook's own seed for Q).

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// PyTorch's _orthogonalize_gram_schmidt on one matrix.
torch::Tensor gram_schmidt(torch::Tensor matrix, double epsilon) {
  using torch::indexing::Slice;
  matrix = matrix.clone();
  const std::int64_t cols = matrix.size(1);
  for (std::int64_t i = 0; i < cols; ++i) {
    auto col = matrix.index({Slice(), Slice(i, i + 1)});
    const auto norm = torch::frobenius_norm(col, {0}, true);
    if (epsilon == 0) {
      if (norm.item<float>() == 0) {
        col.fill_(0.0);
      } else {
        col /= norm;
      }
    } else {
      col /= norm + epsilon;
    }
    if (i + 1 < cols) {
      auto rest = matrix.index({Slice(), Slice(i + 1, torch::indexing::None)});
      rest -= torch::sum(col * rest, 0, true) * col;
    }
  }
  return matrix;
}

struct ReferenceTensor {
  bool compressed = false;
  std::int64_t n = 0, m = 0, r = 0;
  torch::Tensor q, p;                // the last step's
  std::vector<torch::Tensor> error;  // by rank; undefined until the first compressed step
};

class Reference {
 public:
  Reference(const dgc::PowerSgdOptions& o, int world) : o_(o), world_(world) {
    for (const auto& t : kTensors) {
      ReferenceTensor x;
      if (t.shape.size() >= 2) {
        x.n = t.shape[0];
        x.m = t.numel / x.n;
        x.r = std::min({x.n, x.m, o.matrix_approximation_rank});
        // _should_compress
        x.compressed = (x.n + x.m) * x.r * o.min_compression_rate < x.n * x.m;
      }
      x.error.resize(world);
      tensors_.push_back(x);
    }
  }

  // The averaged gradient of every tensor at `step`.
  std::vector<torch::Tensor> step(int step) {
    std::vector<torch::Tensor> out(kTensors.size());
    for (std::size_t b = 0; b < kBuckets.size(); ++b) {
      const bool compress = step >= o_.start_powerSGD_iter;
      std::vector<std::size_t> to_compress;
      for (const std::size_t t : kBuckets[b]) {
        if (!compress || !tensors_[t].compressed) {
          auto sum = rank_gradient(0, step, t);
          for (int r = 1; r < world_; ++r) sum = sum + rank_gradient(r, step, t);
          out[t] = sum * (1.0 / world_);
        } else {
          to_compress.push_back(t);
        }
      }
      if (to_compress.empty()) continue;
      // A fresh Q for the bucket, tensor after tensor, from the seed of (seed, bucket, step).
      std::optional<at::Generator> generator;
      for (const std::size_t t : to_compress) {
        auto& x = tensors_[t];
        if (o_.warm_start && x.q.defined()) continue;
        if (!generator) {
          generator = at::make_generator<at::CPUGeneratorImpl>(
              splitmix64(splitmix64(splitmix64(o_.seed) ^ b) ^ static_cast<std::uint64_t>(step)));
        }
        x.q = torch::randn({x.m, x.r}, *generator, torch::kFloat);
      }
      for (const std::size_t t : to_compress) {
        auto& x = tensors_[t];
        std::vector<torch::Tensor> matrices;
        for (int r = 0; r < world_; ++r) {
          auto g = rank_gradient(r, step, t).view({x.n, x.m});
          if (o_.use_error_feedback && x.error[r].defined()) g = x.error[r] + g;
          matrices.push_back(g);
        }
        const auto q = gram_schmidt(x.q, o_.orthogonalization_epsilon);
        auto p = matrices[0].mm(q);
        for (int r = 1; r < world_; ++r) p = p + matrices[r].mm(q);
        p = gram_schmidt(p, o_.orthogonalization_epsilon);
        auto new_q = matrices[0].t().mm(p);
        for (int r = 1; r < world_; ++r) new_q = new_q + matrices[r].t().mm(p);
        x.q = new_q / world_;
        x.p = p;
        const auto approximation = p.mm(x.q.t());
        if (o_.use_error_feedback) {
          for (int r = 0; r < world_; ++r) x.error[r] = matrices[r] - approximation;
        }
        out[t] = approximation.view(kTensors[t].shape);
      }
    }
    return out;
  }

  // What the hook's accessors hold for bucket b: its compressed tensors in bucket order.
  torch::Tensor flat(std::size_t b, const std::function<torch::Tensor(ReferenceTensor&)>& of) {
    std::vector<torch::Tensor> parts;
    for (const std::size_t t : kBuckets[b]) {
      if (tensors_[t].compressed && of(tensors_[t]).defined())
        parts.push_back(of(tensors_[t]).reshape({-1}));
    }
    return parts.empty() ? torch::Tensor() : torch::cat(parts);
  }

 private:
  dgc::PowerSgdOptions o_;
  int world_;
  std::vector<ReferenceTensor> tensors_;
};

// ---- Driving the hook as the DistributedOptimizer does.

struct Driven {
  dgc::PowerSgdHook hook;
  dgc::TrafficStats traffic;

  explicit Driven(const dgc::PowerSgdOptions& o) : hook(o) {
    hook.prepare(kTensors, kBuckets, comm());
  }

  // This rank's step: every bucket's run(), then every finish(); the averaged gradients.
  std::vector<torch::Tensor> step(int step) {
    traffic = dgc::TrafficStats{};
    std::vector<std::vector<torch::Tensor>> grads(kBuckets.size()), outs(kBuckets.size());
    for (std::size_t b = 0; b < kBuckets.size(); ++b) {
      for (const std::size_t t : kBuckets[b]) {
        grads[b].push_back(rank_gradient(comm().rank(), step, t));
        // Garbage in the output, as the contract allows.
        outs[b].push_back(torch::full(kTensors[t].shape, 1e30, torch::kFloat));
      }
      hook.run({b, &kBuckets[b], &grads[b]}, comm(), traffic);
    }
    std::vector<torch::Tensor> out(kTensors.size());
    for (std::size_t b = 0; b < kBuckets.size(); ++b) {
      hook.finish({b, &kBuckets[b], &grads[b]}, outs[b]);
      for (std::size_t j = 0; j < kBuckets[b].size(); ++j) out[kBuckets[b][j]] = outs[b][j];
    }
    return out;
  }
};

// Exact with one or two ranks: the hook and the reference run the same ops on the same values,
// and a sum of two floats does not depend on their order. With more ranks MPI may add the ranks'
// P, Q and dense tensors in another order than the reference's 0, 1, 2, ...: the last bits
// differ, and a few steps of orthogonalization and error feedback carry them on, far below 1e-4.
void expect_matches(const torch::Tensor& got, const torch::Tensor& expected,
                    const std::string& what) {
  ASSERT_EQ(got.defined(), expected.defined()) << what;
  if (!got.defined()) return;
  ASSERT_EQ(got.sizes(), expected.sizes()) << what;
  if (comm().size() <= 2) {
    EXPECT_TRUE(torch::equal(got, expected)) << what << ":\n" << got << "\nexpected\n" << expected;
  } else {
    EXPECT_TRUE(torch::allclose(got, expected, /*rtol=*/1e-4, /*atol=*/1e-5))
        << what << ": largest difference " << (got - expected).abs().max().item<float>();
  }
}

struct Case {
  std::string name;
  std::int64_t rank;
  double min_compression_rate;
  bool warm_start, use_error_feedback;
  double orthogonalization_epsilon;
  std::int64_t start;
};

std::ostream& operator<<(std::ostream& out, const Case& c) { return out << c.name; }

dgc::PowerSgdOptions options_of(const Case& c) {
  dgc::PowerSgdOptions o;
  o.matrix_approximation_rank = c.rank;
  o.min_compression_rate = c.min_compression_rate;
  o.warm_start = c.warm_start;
  o.use_error_feedback = c.use_error_feedback;
  o.orthogonalization_epsilon = c.orthogonalization_epsilon;
  o.start_powerSGD_iter = c.start;
  o.seed = 5;
  return o;
}

class PowerSgdReference : public testing::TestWithParam<Case> {};

TEST_P(PowerSgdReference, GivesTheReferencesPQOutputAndError) {
  const auto o = options_of(GetParam());
  Driven driven(o);
  Reference reference(o, comm().size());
  const int me = comm().rank();
  for (int step = 0; step < 5; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const auto got = driven.step(step);
    const auto expected = reference.step(step);
    EXPECT_EQ(driven.hook.step(), step + 1);
    for (std::size_t t = 0; t < kTensors.size(); ++t) {
      expect_matches(got[t], expected[t], "output of " + kTensors[t].name);
    }
    if (step < o.start_powerSGD_iter) {
      for (std::size_t b = 0; b < kBuckets.size(); ++b) {
        EXPECT_FALSE(driven.hook.p(b).defined()) << "compressed before start_powerSGD_iter";
        EXPECT_FALSE(driven.hook.error(b).defined()) << "an error before start_powerSGD_iter";
      }
      continue;
    }
    for (std::size_t b = 0; b < kBuckets.size(); ++b) {
      const std::string in = " of bucket " + std::to_string(b);
      expect_matches(driven.hook.p(b), reference.flat(b, [](auto& x) { return x.p; }), "P" + in);
      expect_matches(driven.hook.q(b), reference.flat(b, [](auto& x) { return x.q; }), "Q" + in);
      expect_matches(driven.hook.error(b), reference.flat(b, [me](auto& x) { return x.error[me]; }),
                     "error" + in);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PowerSgdReference,
    testing::Values(Case{"Rank1", 1, 2, true, true, 0, 2}, Case{"Rank2", 2, 2, true, true, 0, 2},
                    Case{"Rank2Epsilon", 2, 2, true, true, 1e-8, 1},
                    Case{"FreshQWithoutErrorFeedback", 1, 2, false, false, 0, 1},
                    // Everything with two dimensions is compressed; vectors still are not.
                    Case{"LowRate", 1, 0.5, true, true, 0, 0},
                    // The rank is capped at the matrices' smaller side (3 for small.weight), and
                    // P has more than two columns to orthogonalize.
                    Case{"Rank4CappedLowRate", 4, 0.5, true, true, 0, 0}),
    [](const auto& info) { return info.param.name; });

// Before start_powerSGD_iter the hook is the dense allreduce, bitwise at any number of ranks (the
// same buffer through the same collective).
TEST(PowerSgdHook, IsTheDenseAllreduceBeforeStartPowerSgdIter) {
  dgc::PowerSgdOptions o;
  o.start_powerSGD_iter = 1;
  Driven driven(o);
  dgc::AllreduceHook dense;
  dense.prepare(kTensors, kBuckets, comm());
  const auto got = driven.step(0);
  for (std::size_t b = 0; b < kBuckets.size(); ++b) {
    std::vector<torch::Tensor> grads, out;
    for (const std::size_t t : kBuckets[b]) {
      grads.push_back(rank_gradient(comm().rank(), 0, t));
      out.push_back(torch::empty(kTensors[t].shape));
    }
    dgc::TrafficStats traffic;
    dense.run({b, &kBuckets[b], &grads}, comm(), traffic);
    dense.finish({b, &kBuckets[b], &grads}, out);
    for (std::size_t j = 0; j < out.size(); ++j) {
      EXPECT_TRUE(torch::equal(got[kBuckets[b][j]], out[j])) << kTensors[kBuckets[b][j]].name;
    }
  }
}

// Bytes handed to each allreduce: the whole bucket before the start; afterwards the uncompressed
// tensors, every P and every Q.
TEST(PowerSgdHook, CountsTheBytesOfEachAllreduce) {
  dgc::PowerSgdOptions o;
  o.start_powerSGD_iter = 1;
  Driven driven(o);
  driven.step(0);
  EXPECT_EQ(driven.traffic.bytes_sent, (96 + 8 + 12 + 108 + 35) * 4);
  driven.step(1);
  // Rank 1: fc.weight 8 x 12, conv.weight 6 x 18 and head.weight 5 x 7 are compressed.
  const std::int64_t dense = 8 + 12, p = 8 + 6 + 5, q = 12 + 18 + 7;
  EXPECT_EQ(driven.traffic.bytes_sent, (dense + p + q) * 4);
  EXPECT_EQ(driven.traffic.bytes_received, (dense + p + q) * 4);
  EXPECT_EQ(driven.traffic.dense_fallback_buckets, 0);
}

// A matrix whose gradient is 0 on every rank gives a column of norm 0 to orthogonalize: PyTorch
// divides by it (NaN), the hook sends zeros, and its error stays 0.
TEST(PowerSgdHook, AZeroGradientGivesZerosNotNaN) {
  dgc::PowerSgdOptions o;
  o.start_powerSGD_iter = 0;
  dgc::PowerSgdHook hook(o);
  const std::vector<dgc::HookTensor> tensors = {{"w", {8, 12}, 96}};
  const std::vector<std::vector<std::size_t>> buckets = {{0}};
  hook.prepare(tensors, buckets, comm());
  for (int step = 0; step < 2; ++step) {
    const std::vector<torch::Tensor> grads = {torch::zeros({8, 12})};
    std::vector<torch::Tensor> out = {torch::full({8, 12}, 7.0)};
    dgc::TrafficStats traffic;
    hook.run({0, &buckets[0], &grads}, comm(), traffic);
    hook.finish({0, &buckets[0], &grads}, out);
    EXPECT_TRUE(torch::equal(out[0], torch::zeros({8, 12}))) << out[0];
    EXPECT_TRUE(torch::equal(hook.error(0), torch::zeros({96})));
  }
}

// ---- The checkpoint.

std::string saved(const dgc::CommHook& hook) {
  torch::serialize::OutputArchive archive;
  hook.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

void load(dgc::CommHook& hook, const std::string& bytes) {
  torch::serialize::InputArchive archive;
  std::istringstream in(bytes);
  archive.load_from(in);
  hook.load(archive);
}

dgc::PowerSgdOptions resume_options() {
  dgc::PowerSgdOptions o;
  o.start_powerSGD_iter = 1;
  o.matrix_approximation_rank = 2;
  return o;
}

// Saved after 3 steps and loaded into a fresh hook, the next steps are bitwise the straight run's.
TEST(PowerSgdHook, ResumesExactlyFromItsState) {
  Driven straight(resume_options());
  for (int step = 0; step < 3; ++step) straight.step(step);
  const std::string state = saved(straight.hook);
  Driven resumed(resume_options());
  load(resumed.hook, state);
  EXPECT_EQ(resumed.hook.step(), 3);
  for (int step = 3; step < 5; ++step) {
    const auto a = straight.step(step);
    const auto b = resumed.step(step);
    for (std::size_t t = 0; t < a.size(); ++t) EXPECT_TRUE(torch::equal(a[t], b[t])) << t;
  }
  for (std::size_t b = 0; b < kBuckets.size(); ++b) {
    EXPECT_TRUE(torch::equal(straight.hook.error(b), resumed.hook.error(b)));
    EXPECT_TRUE(torch::equal(straight.hook.q(b), resumed.hook.q(b)));
  }
}

// The live state of a hook, to check that a refused load left it alone.
std::vector<torch::Tensor> state_of(const dgc::PowerSgdHook& hook) {
  std::vector<torch::Tensor> out = {torch::tensor(hook.step())};
  for (std::size_t b = 0; b < kBuckets.size(); ++b) {
    out.push_back(hook.error(b).clone());
    out.push_back(hook.q(b).clone());
  }
  return out;
}

void expect_refused(dgc::PowerSgdHook& hook, const std::string& bytes, const std::string& message) {
  const auto before = state_of(hook);
  EXPECT_THAT(dgc::test::thrown_error_of([&] { load(hook, bytes); }), HasSubstr(message));
  const auto after = state_of(hook);
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(torch::equal(before[i], after[i])) << "the state changed: entry " << i;
  }
}

TEST(PowerSgdHook, RefusesABadStateAndKeepsItsOwn) {
  Driven driven(resume_options());
  for (int step = 0; step < 2; ++step) driven.step(step);
  const std::string good = saved(driven.hook);
  {
    torch::serialize::InputArchive in;
    std::istringstream bytes(good);
    in.load_from(bytes);
    torch::serialize::OutputArchive out;
    // Another format version: the entries copied, the version replaced.
    for (const auto& key : {"powersgd.step", "powersgd.buckets", "powersgd.bucket0.error",
                            "powersgd.bucket0.q", "powersgd.bucket1.error", "powersgd.bucket1.q"}) {
      torch::Tensor t;
      ASSERT_TRUE(in.try_read(key, t, true)) << key;
      out.write(key, t, true);
    }
    out.write("powersgd.format_version", torch::tensor(std::int64_t{99}), true);
    std::ostringstream written;
    out.save_to(written);
    expect_refused(driven.hook, written.str(),
                   "the PowerSGD state in the checkpoint has format version 99; this dgc reads "
                   "version 1");
  }
  // Another exchange's state.
  expect_refused(driven.hook, saved(dgc::AllreduceHook()),
                 "the checkpoint holds no PowerSGD state (no 'powersgd.format_version')");
  {
    // Another model: its first matrix has another shape.
    std::vector<dgc::HookTensor> tensors = kTensors;
    tensors[0] = {"fc.weight", {8, 10}, 80};
    dgc::PowerSgdHook other(resume_options());
    other.prepare(tensors, kBuckets, comm());
    for (int step = 0; step < 2; ++step) {
      std::vector<std::vector<torch::Tensor>> grads(kBuckets.size()), outs(kBuckets.size());
      dgc::TrafficStats traffic;
      for (std::size_t b = 0; b < kBuckets.size(); ++b) {
        for (const std::size_t t : kBuckets[b]) {
          grads[b].push_back(torch::ones(tensors[t].shape));
          outs[b].push_back(torch::empty(tensors[t].shape));
        }
        other.run({b, &kBuckets[b], &grads[b]}, comm(), traffic);
      }
      for (std::size_t b = 0; b < kBuckets.size(); ++b) {
        other.finish({b, &kBuckets[b], &grads[b]}, outs[b]);
      }
    }
    expect_refused(driven.hook, saved(other),
                   "the PowerSGD state's 'powersgd.bucket0.error' has shape [80] and dtype Float, "
                   "expected [96] float32");
  }
  {
    dgc::PowerSgdHook one_bucket(resume_options());
    const std::vector<std::vector<std::size_t>> buckets = {{0, 1, 2, 3, 4}};
    one_bucket.prepare(kTensors, buckets, comm());
    expect_refused(driven.hook, saved(one_bucket),
                   "the PowerSGD state has 1 bucket(s), this model 2");
  }
  load(driven.hook, good);  // and the good one still loads
  EXPECT_EQ(driven.hook.step(), 2);
}

// Ranks with another seed would draw another Q and drift apart in silence: the first exchange
// stops with one error on every rank, before any payload moves.
TEST(PowerSgdHook, RanksMustAgreeOnTheSettings) {
  if (comm().size() == 1) GTEST_SKIP() << "needs two ranks";
  dgc::PowerSgdOptions o;
  o.seed = comm().rank() == 1 ? 7 : 0;
  Driven driven(o);
  EXPECT_THAT(dgc::test::thrown_error_of([&] { driven.step(0); }),
              HasSubstr("the ranks disagree on a bucket's exchange (rank 0: 1 of 3 tensor(s) "
                        "compressed (P of 8, Q of 12 element(s)), step 0, seed 0"));
}

TEST(PowerSgdHook, RejectsBadOptionsNamingTheField) {
  const auto error_for = [](auto change) {
    dgc::PowerSgdOptions o;
    change(o);
    return dgc::test::thrown_error_of([&] { dgc::PowerSgdHook hook(o); });
  };
  EXPECT_THAT(error_for([](auto& o) { o.matrix_approximation_rank = 0; }),
              HasSubstr("matrix_approximation_rank must be >= 1, got 0"));
  EXPECT_THAT(error_for([](auto& o) { o.start_powerSGD_iter = -1; }),
              HasSubstr("start_powerSGD_iter must be >= 0, got -1"));
  EXPECT_THAT(error_for([](auto& o) { o.min_compression_rate = -0.5; }),
              HasSubstr("min_compression_rate must be finite and >= 0, got -0.5"));
  EXPECT_THAT(
      error_for([](auto& o) { o.min_compression_rate = std::numeric_limits<double>::quiet_NaN(); }),
      HasSubstr("min_compression_rate must be finite and >= 0, got nan"));
  EXPECT_THAT(error_for([](auto& o) { o.orthogonalization_epsilon = -1e-8; }),
              HasSubstr("orthogonalization_epsilon must be finite and >= 0, got -1e-08"));
  EXPECT_THAT(error_for([](auto& o) {
                o.orthogonalization_epsilon = std::numeric_limits<double>::infinity();
              }),
              HasSubstr("orthogonalization_epsilon must be finite and >= 0, got inf"));
}

}  // namespace
