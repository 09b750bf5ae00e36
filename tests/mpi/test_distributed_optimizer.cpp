// dgc::DistributedOptimizer under a real launcher (a world of one, mpirun -np 2 and -np 4). Every
// rank runs every test with the same calls in the same order; checks come after the collectives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "cpu_affinity.h"
#include "dgc/compressor.h"
#include "dgc/distributed_optimizer.h"
#include "dgc/error.h"
#include "dgc/hooks/dgc_hook.h"
#include "dgc/sgd.h"
#include "error_of.h"
#include "mpi_test.h"
#include "training_fixture.h"

namespace {

using dgc::test::Batch;
using dgc::test::batch;
using dgc::test::comm;
using dgc::test::dgc_options;
using dgc::test::flat_parameters;
using dgc::test::identical_on_all_ranks;
using dgc::test::loss_of;
using dgc::test::make_model;
using dgc::test::train;
using testing::HasSubstr;

TEST(DistributedOptimizer, DgcKeepsEveryRankBitwiseIdentical) {
  auto model = make_model(7);
  dgc::DGCSGD sgd(model->parameters(),
                  torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  dgc::DistributedOptions options;
  options.bucket_bytes = 1024;  // several buckets
  dgc::DistributedOptimizer opt(comm(), sgd, model->named_parameters().pairs(),
                                std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.05))),
                                options);
  const auto before = flat_parameters(*model).clone();
  train(model, opt, 50);
  const auto after = flat_parameters(*model);
  EXPECT_FALSE(torch::equal(before, after));
  EXPECT_TRUE(identical_on_all_ranks(after));
  EXPECT_TRUE(torch::isfinite(after).all().item<bool>());
}

TEST(DistributedOptimizer, DenseKeepsEveryRankBitwiseIdentical) {
  auto model = make_model(7);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  dgc::DistributedOptions options;
  options.bucket_bytes = 1024;
  dgc::DistributedOptimizer opt(comm(), sgd, model->named_parameters().pairs(), options);
  const auto before = flat_parameters(*model).clone();
  train(model, opt, 50);
  const auto after = flat_parameters(*model);
  EXPECT_FALSE(torch::equal(before, after));
  EXPECT_TRUE(identical_on_all_ranks(after));
}

// Ratio 1 sends everything dense with the momentum applied after the allreduce: the same update
// as momentum SGD on averaged gradients.
TEST(DistributedOptimizer, DgcAtRatioOneEqualsTheDensePath) {
  auto dgc_model = make_model(3);
  auto dense_model = make_model(3);
  dgc::DGCSGD dgc_sgd(dgc_model->parameters(), torch::optim::SGDOptions(0.05));
  torch::optim::SGD dense_sgd(dense_model->parameters(),
                              torch::optim::SGDOptions(0.05).momentum(0.9));
  dgc::MemoryOptions memory;
  memory.momentum = 0.9;
  dgc::DistributedOptimizer dgc_opt(
      comm(), dgc_sgd, dgc_model->named_parameters().pairs(),
      std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(1.0), memory)));
  dgc::DistributedOptimizer dense_opt(comm(), dense_sgd, dense_model->named_parameters().pairs());
  EXPECT_FALSE(dynamic_cast<dgc::DgcHook&>(dgc_opt.hook()).compressor().is_sparse("0.weight"));
  train(dgc_model, dgc_opt, 10);
  train(dense_model, dense_opt, 10);
  EXPECT_TRUE(
      torch::allclose(flat_parameters(*dgc_model), flat_parameters(*dense_model), 1e-5, 1e-6));
}

TEST(DistributedOptimizer, TwoHalfBatchesEqualOneFullBatch) {
  auto full_model = make_model(5);
  auto half_model = make_model(5);
  torch::optim::SGD full_sgd(full_model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  torch::optim::SGD half_sgd(half_model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  dgc::DistributedOptions two;
  two.backward_passes_per_step = 2;
  dgc::DistributedOptimizer full_opt(comm(), full_sgd, full_model->named_parameters().pairs());
  dgc::DistributedOptimizer half_opt(comm(), half_sgd, half_model->named_parameters().pairs(), two);
  for (int step = 0; step < 5; ++step) {
    const Batch b = batch(step, 8);
    full_opt.zero_grad();
    loss_of(full_model, b).backward();
    full_opt.step();
    half_opt.zero_grad();
    for (int half = 0; half < 2; ++half) {
      const Batch part{b.x.narrow(0, 4 * half, 4), b.y.narrow(0, 4 * half, 4)};
      (loss_of(half_model, part) / 2).backward();
    }
    half_opt.step();
  }
  EXPECT_TRUE(
      torch::allclose(flat_parameters(*full_model), flat_parameters(*half_model), 1e-5, 1e-6));
}

// Horovod's pattern: synchronize(), work on the averaged .grad, then step() without a second
// exchange (which would send zeros and overwrite .grad).
TEST(DistributedOptimizer, StepAfterSynchronizeExchangesOnce) {
  auto model = make_model(5);
  auto reference = make_model(5);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  torch::optim::SGD reference_sgd(reference->parameters(), torch::optim::SGDOptions(0.1));
  dgc::DistributedOptimizer opt(comm(), sgd, model->named_parameters().pairs());
  dgc::DistributedOptimizer reference_opt(comm(), reference_sgd,
                                          reference->named_parameters().pairs());
  loss_of(model, batch(0)).backward();
  opt.synchronize();
  opt.step();
  loss_of(reference, batch(0)).backward();
  reference_opt.step();
  EXPECT_TRUE(torch::equal(flat_parameters(*model), flat_parameters(*reference)));
}

TEST(DistributedOptimizer, MoreBackwardPassesThanDeclaredIsAnError) {
  auto model = make_model(5);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  dgc::DistributedOptimizer opt(comm(), sgd, model->named_parameters().pairs());
  loss_of(model, batch(0)).backward();
  std::string message;
  try {
    loss_of(model, batch(1)).backward();
  } catch (const std::exception& e) {
    message = e.what();
  }
  EXPECT_THAT(message, HasSubstr("more than backward_passes_per_step = 1 gradients"));
  opt.synchronize();  // the first pass's exchange, on every rank
}

// The gradient of sum(w * c) is c: each rank's is known to every rank, so the exchange's result
// can be computed by hand from every rank's top-k.
torch::Tensor rank_gradient(int rank, std::int64_t n) {
  // Distinct magnitudes (no ties), a different order on every rank.
  auto g = torch::arange(1, n + 1, torch::kFloat) * (rank % 2 == 0 ? 1.0 : -1.0) / n;
  return g.roll(5 * rank);
}

struct ExchangeCase {
  bool fp16_values, int32_indices;
};

void check_exchange_by_hand(const ExchangeCase& c) {
  const std::int64_t rows = 10, cols = 20, n = rows * cols;
  auto w = torch::zeros({rows, cols}, torch::requires_grad());
  auto bias = torch::zeros({cols}, torch::requires_grad());
  dgc::DGCSGD sgd({w, bias}, torch::optim::SGDOptions(0.1));
  dgc::CompressorOptions o = dgc_options(0.05);  // k = 10 of 200
  o.sample_ratio = 1.0;                          // the threshold is exact
  o.fp16_values = c.fp16_values;
  o.int32_indices = c.int32_indices;
  dgc::DgcHookOptions raw;  // the traffic below counts raw slots
  raw.encoding = dgc::WireEncoding::kRaw;
  dgc::DistributedOptimizer opt(comm(), sgd, {{"w", w}, {"bias", bias}},
                                std::make_unique<dgc::DgcHook>(dgc::Compressor(o), raw));
  const auto mine = rank_gradient(comm().rank(), n);
  ((w.view({-1}) * mine).sum() + (bias * mine.narrow(0, 0, cols)).sum()).backward();
  opt.synchronize();

  const std::int64_t k = 10;
  auto expected = torch::zeros({n});
  auto expected_bias = torch::zeros({cols});
  for (int r = 0; r < comm().size(); ++r) {
    const auto g = rank_gradient(r, n);
    const auto top = std::get<1>(g.abs().topk(k));
    auto values = g.index_select(0, top);
    if (c.fp16_values) values = values.to(torch::kHalf).to(torch::kFloat);
    expected.index_add_(0, top, values);
    expected_bias += c.fp16_values ? g.narrow(0, 0, cols).to(torch::kHalf).to(torch::kFloat)
                                   : g.narrow(0, 0, cols);
  }
  const float scale = static_cast<float>(1.0 / comm().size());
  expected.mul_(scale);
  // The dense bias: averaged, then the memory's momentum (first step: u = g).
  expected_bias.mul_(scale);
  EXPECT_TRUE(torch::allclose(w.grad().view({-1}), expected, 1e-6, 1e-7))
      << (w.grad().view({-1}) - expected).abs().max();
  EXPECT_TRUE(torch::allclose(bias.grad(), expected_bias, 1e-3, 1e-4));
  // Traffic: one slot of 1 count + k indices + k values, padded to 8 bytes; the bias dense.
  const std::int64_t index_bytes = c.int32_indices ? 4 : 8, value_bytes = c.fp16_values ? 2 : 4;
  const auto pad8 = [](std::int64_t b) { return (b + 7) / 8 * 8; };
  const std::int64_t slot = pad8(pad8(8 + k * index_bytes) + k * value_bytes);
  const auto& t = opt.last_step_traffic();
  EXPECT_EQ(t.bytes_sent, slot + cols * value_bytes);
  EXPECT_EQ(t.bytes_received, slot * (comm().size() - 1) + cols * value_bytes);
  EXPECT_EQ(t.dense_bytes, (n + cols) * 4);
}

TEST(DistributedOptimizer, ExchangeEqualsTheSumByHand) { check_exchange_by_hand({false, false}); }
TEST(DistributedOptimizer, Fp16ValuesAndInt32IndicesRoundTrip) {
  check_exchange_by_hand({true, true});
}

// Section 8: clipping by sqrt(mean over ranks of sum(g^2)) of each tensor, as a norm or as a
// clamp value. Rank 0's gradient has one large entry, so that the clamp bites when there are
// other ranks.
torch::Tensor clipped_rank_gradient(int rank, std::int64_t n) {
  auto g = rank_gradient(rank, n);
  if (rank == 0) g[0] = 100.0f;
  return g;
}

void check_global_clipping(dgc::GradientClipping::Kind kind) {
  const std::int64_t n = 200;
  auto w = torch::zeros({10, 20}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::CompressorOptions o = dgc_options(0.05);
  o.sample_ratio = 1.0;
  dgc::MemoryOptions memory;
  memory.gradient_clipping.kind = kind;
  memory.gradient_clipping.max_norm = 0.5;
  dgc::DistributedOptimizer opt(comm(), sgd, {{"w", w}},
                                std::make_unique<dgc::DgcHook>(dgc::Compressor(o, memory)));
  (w.view({-1}) * clipped_rank_gradient(comm().rank(), n)).sum().backward();
  opt.synchronize();

  float square_mean = 0;
  for (int r = 0; r < comm().size(); ++r) {
    square_mean += clipped_rank_gradient(r, n).square().sum().item<float>();
  }
  square_mean /= static_cast<float>(comm().size());
  const float norm = std::sqrt(square_mean);
  auto expected = torch::zeros({n});
  for (int r = 0; r < comm().size(); ++r) {
    auto g = clipped_rank_gradient(r, n);
    if (kind == dgc::GradientClipping::Kind::kGlobalNorm) {
      g = g * std::min(1.0f, 0.5f / (norm + 1e-6f));
    } else {
      g = g.clamp(-norm, norm);
    }
    const auto top = std::get<1>(g.abs().topk(10));
    expected.index_add_(0, top, g.index_select(0, top));
  }
  expected.mul_(static_cast<float>(1.0 / comm().size()));
  EXPECT_TRUE(torch::allclose(w.grad().view({-1}), expected, 1e-5, 1e-6))
      << (w.grad().view({-1}) - expected).abs().max();
  // The clip did something: rank 0's large entry is not what it sent.
  EXPECT_LT(w.grad().view({-1})[0].item<float>(), 100.0f / comm().size());
}

TEST(DistributedOptimizer, ClipsByTheGlobalNorm) {
  check_global_clipping(dgc::GradientClipping::Kind::kGlobalNorm);
}

TEST(DistributedOptimizer, ClampsAtTheGlobalNorm) {
  if (comm().size() == 1) GTEST_SKIP() << "one rank's values never exceed its own norm";
  check_global_clipping(dgc::GradientClipping::Kind::kGlobalValue);
}

TEST(DistributedOptimizer, BroadcastsParametersAndOptimizerState) {
  const int root = comm().size() - 1;
  auto model = make_model(100 + comm().rank());  // different on every rank
  torch::optim::SGD sgd(model->parameters(),
                        torch::optim::SGDOptions(0.01 * (comm().rank() + 1)).momentum(0.9));
  if (comm().rank() == root) {
    // Only the root has momentum buffers, from a local step (before the hooks exist: a backward
    // pass under DistributedOptimizer is collective).
    loss_of(model, batch(0)).backward();
    sgd.step();
  }
  dgc::DistributedOptimizer opt(comm(), sgd, model->named_parameters().pairs());
  opt.broadcast_parameters(root);
  opt.broadcast_optimizer_state(root);
  EXPECT_TRUE(identical_on_all_ranks(flat_parameters(*model)));
  const auto& options =
      static_cast<const torch::optim::SGDOptions&>(sgd.param_groups()[0].options());
  EXPECT_DOUBLE_EQ(options.lr(), 0.01 * (root + 1));
  std::vector<torch::Tensor> buffers;
  for (const auto& p : model->parameters()) {
    auto it = sgd.state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
    ASSERT_NE(it, sgd.state().end());
    buffers.push_back(
        static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer().reshape({-1}));
  }
  EXPECT_TRUE(identical_on_all_ranks(torch::cat(buffers)));
}

TEST(DistributedOptimizer, RejectsBadSettings) {
  auto model = make_model(5);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  dgc::DistributedOptions options;
  options.backward_passes_per_step = 0;
  std::string message;
  try {
    dgc::DistributedOptimizer opt(comm(), sgd, model->named_parameters().pairs(), options);
  } catch (const dgc::Error& e) {
    message = e.what();
  }
  EXPECT_THAT(message, HasSubstr("backward_passes_per_step must be >= 1, got 0"));
}

// One core per rank of the machine, or one for all (HOROVOD_THREAD_AFFINITY); another count is an
// error naming the ranks the machine runs.
TEST(DistributedOptimizer, CommThreadCoresMustMatchTheMachinesRanks) {
  auto model = make_model(5);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  dgc::DistributedOptions options;
  options.comm_thread_cpus.assign(comm().local_size() + 1, 0);
  if (options.comm_thread_cpus.size() == 1) options.comm_thread_cpus.push_back(0);
  const std::string message = dgc::test::thrown_error_of([&] {
    dgc::DistributedOptimizer opt(comm(), sgd, model->named_parameters().pairs(), options);
  });
  EXPECT_THAT(
      message,
      HasSubstr("comm_thread_cpus lists " + std::to_string(options.comm_thread_cpus.size()) +
                " cores, but rank " + std::to_string(comm().rank()) + "'s machine runs " +
                std::to_string(comm().local_size()) + " ranks"));
}

// The thread named dgc-comm, found the way top -H finds it, may run only on this rank's core of
// the list, and training with it pinned keeps the ranks identical.
TEST(DistributedOptimizer, PinsTheCommThreadToThisRanksCore) {
  const std::vector<int> usable = dgc::test::allowed_cores();
  ASSERT_FALSE(usable.empty());
  // A different core for each local rank where there are enough, so that indexing shows.
  dgc::DistributedOptions options;
  for (int r = 0; r < comm().local_size(); ++r) {
    options.comm_thread_cpus.push_back(usable[(usable.size() - 1 - r % usable.size())]);
  }
  const int expected = options.comm_thread_cpus[comm().local_rank()];
  auto model = make_model(7);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  options.bucket_bytes = 1024;
  dgc::DistributedOptimizer opt(comm(), sgd, model->named_parameters().pairs(), options);
  std::vector<std::vector<int>> comm_threads_cores;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream name_file(task.path() / "comm");
    std::string name;
    std::getline(name_file, name);
    if (name != "dgc-comm") continue;
    comm_threads_cores.push_back(
        dgc::test::allowed_cores(std::stoi(task.path().filename().string())));
  }
  ASSERT_EQ(comm_threads_cores.size(), 1u);
  EXPECT_EQ(comm_threads_cores[0], std::vector<int>{expected});
  train(model, opt, 10);
  EXPECT_TRUE(identical_on_all_ranks(flat_parameters(*model)));
}

// Under DGC the memory applies the momentum; an inner SGD with its own would apply it twice.
TEST(DistributedOptimizer, DgcRefusesAnInnerSgdWithMomentum) {
  auto model = make_model(5);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  std::string message;
  try {
    dgc::DistributedOptimizer opt(
        comm(), sgd, model->named_parameters().pairs(),
        std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.05))));
  } catch (const dgc::Error& e) {
    message = e.what();
  }
  EXPECT_THAT(message, HasSubstr("the inner torch::optim::SGD's momentum 0.9 (parameter group 0) "
                                 "would apply it twice: use dgc::DGCSGD"));
  // Without momentum, or the dense path with it, or DGC-SGD (which ignores it): accepted.
  torch::optim::SGD plain(model->parameters(), torch::optim::SGDOptions(0.1));
  dgc::DistributedOptimizer without(
      comm(), plain, model->named_parameters().pairs(),
      std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.05))));
  dgc::DistributedOptimizer dense(comm(), sgd, model->named_parameters().pairs());
  dgc::DGCSGD dgc_sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  dgc::DistributedOptimizer with_dgc_sgd(
      comm(), dgc_sgd, model->named_parameters().pairs(),
      std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.05))));
}

}  // namespace
