// The comm hooks under a real launcher (a world of one, mpirun -np 2 and -np 4): every built-in
// hook keeps the ranks bitwise identical and resumes exactly; the exact hooks give the sums by
// hand; DGC's dense fallback is taken exactly where the slots would outweigh the allreduce; a
// hook written outside the library works; the failure policy and the ranks' agreement on the
// hook. Every rank runs every test with the same calls in the same order.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "allgather_mean_hook.h"
#include "dgc/compressor.h"
#include "dgc/distributed_optimizer.h"
#include "dgc/error.h"
#include "dgc/hooks/allreduce_hook.h"
#include "dgc/hooks/dgc_auto_hook.h"
#include "dgc/hooks/dgc_hierarchical_hook.h"
#include "dgc/hooks/dgc_hook.h"
#include "dgc/hooks/make_dgc_hook.h"
#include "dgc/hooks/powersgd_hook.h"
#include "dgc/sgd.h"
#include "error_of.h"
#include "mpi_test.h"
#include "training_fixture.h"

namespace {

using dgc::test::comm;
using dgc::test::dgc_options;
using dgc::test::flat_parameters;
using dgc::test::identical_on_all_ranks;
using dgc::test::make_model;
using dgc::test::train;
using testing::HasSubstr;

// A built-in hook by its dgc-train name.
std::unique_ptr<dgc::CommHook> make_hook(const std::string& name) {
  if (name == "dgc_raw") {
    dgc::DgcHookOptions raw;
    raw.encoding = dgc::WireEncoding::kRaw;
    return std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.05)), raw);
  }
  if (name == "dgc_leaders") {
    dgc::DgcHookOptions leaders;
    leaders.hierarchical_allgather = true;
    return std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.05)), leaders);
  }
  if (name.rfind("dgc", 0) == 0) {
    // Configured links for dgc_auto: the choice must not depend on a measurement.
    dgc::DgcAutoOptions choice;
    choice.costs = dgc::ExchangeCosts{{2e-5, 1e8}, {1e-6, 1e10}};
    return dgc::make_dgc_hook(name, dgc::Compressor(dgc_options(0.05)), {}, choice);
  }
  if (name == "powersgd") {
    dgc::PowerSgdOptions o;
    o.start_powerSGD_iter = 2;  // compression runs from the third step on
    return std::make_unique<dgc::PowerSgdHook>(o);
  }
  return dgc::make_allreduce_hook(name);
}

// The inner optimizer the hook needs: DGC applies the momentum itself.
std::unique_ptr<torch::optim::Optimizer> make_inner(const std::string& hook,
                                                    const std::vector<torch::Tensor>& params) {
  const auto o = torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4);
  if (hook.rfind("dgc", 0) == 0) return std::make_unique<dgc::DGCSGD>(params, o);
  return std::make_unique<torch::optim::SGD>(params, o);
}

// A model with its optimizer and hook, as a training loop holds them.
struct Trainee {
  torch::nn::Sequential model;
  std::unique_ptr<torch::optim::Optimizer> inner;
  std::unique_ptr<dgc::DistributedOptimizer> opt;

  explicit Trainee(const std::string& hook) : model(make_model(11)) {
    inner = make_inner(hook, model->parameters());
    dgc::DistributedOptions options;
    options.bucket_bytes = 1024;  // several buckets
    opt = std::make_unique<dgc::DistributedOptimizer>(
        comm(), *inner, model->named_parameters().pairs(), make_hook(hook), options);
  }

  std::string save() const {
    torch::serialize::OutputArchive archive, optimizer, hook;
    inner->save(optimizer);
    archive.write("optimizer", optimizer);
    opt->hook().save(hook);
    archive.write("hook", hook);
    std::ostringstream out;
    archive.save_to(out);
    return out.str();
  }
  void load(const std::string& bytes) {
    torch::serialize::InputArchive archive, optimizer, hook;
    std::istringstream in(bytes);
    archive.load_from(in);
    archive.read("optimizer", optimizer);
    inner->load(optimizer);
    if (opt->hook().has_state()) {
      archive.read("hook", hook);
      opt->hook().load(hook);
    }
  }
};

class EveryHook : public testing::TestWithParam<std::string> {};

TEST_P(EveryHook, KeepsEveryRankBitwiseIdentical) {
  Trainee t(GetParam());
  const auto before = flat_parameters(*t.model).clone();
  train(t.model, *t.opt, 5);
  const auto after = flat_parameters(*t.model);
  EXPECT_FALSE(torch::equal(before, after)) << "the model did not move";
  EXPECT_TRUE(identical_on_all_ranks(after));
  EXPECT_GT(t.opt->last_step_traffic().bytes_sent, 0);
}

// Stopped after 3 steps and resumed from the saved state in a fresh optimizer and hook, the run
// ends bitwise where the straight one does.
TEST_P(EveryHook, ResumesExactly) {
  Trainee straight(GetParam());
  train(straight.model, *straight.opt, 3);
  const std::string state = straight.save();
  const auto parameters = flat_parameters(*straight.model).clone();
  train(straight.model, *straight.opt, 3, /*first_step=*/3);

  Trainee resumed(GetParam());
  {
    torch::NoGradGuard no_grad;
    std::int64_t offset = 0;
    for (auto& p : resumed.model->parameters()) {
      p.copy_(parameters.narrow(0, offset, p.numel()).view_as(p));
      offset += p.numel();
    }
  }
  resumed.load(state);
  train(resumed.model, *resumed.opt, 3, /*first_step=*/3);
  EXPECT_TRUE(torch::equal(flat_parameters(*straight.model), flat_parameters(*resumed.model)));
}

INSTANTIATE_TEST_SUITE_P(Hooks, EveryHook,
                         testing::Values("allreduce", "fp16", "bf16", "dgc", "dgc_raw",
                                         "dgc_leaders", "dgc_hierarchical", "dgc_reduce_scatter",
                                         "dgc_auto", "powersgd"),
                         [](const auto& info) { return info.param; });

// Rank r's gradient: quarter steps times (r + 1), exact in float16 and bfloat16, and so are their
// sums over up to 4 ranks whatever order MPI adds them in.
torch::Tensor exact_gradient(int rank) {
  return (torch::arange(32, torch::kFloat) - 7) * 0.25 * (rank + 1);
}

// One synchronize() of a [4, 8] weight whose gradient is `grad`.
torch::Tensor exchanged(std::unique_ptr<dgc::CommHook> hook, const torch::Tensor& grad,
                        dgc::TrafficStats* traffic = nullptr) {
  auto w = torch::zeros({4, 8}, torch::requires_grad());
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::DistributedOptimizer opt(comm(), sgd, {{"w", w}}, std::move(hook));
  (w.view({-1}) * grad).sum().backward();
  opt.synchronize();
  if (traffic != nullptr) *traffic = opt.last_step_traffic();
  return w.grad().view({-1}).clone();
}

TEST(AllreduceHooks, AverageTheGradientsExactly) {
  auto expected = torch::zeros({32});
  for (int r = 0; r < comm().size(); ++r) expected += exact_gradient(r);
  expected.mul_(1.0 / comm().size());
  for (const char* name : {"allreduce", "fp16", "bf16"}) {
    dgc::TrafficStats traffic;
    const auto got =
        exchanged(dgc::make_allreduce_hook(name), exact_gradient(comm().rank()), &traffic);
    EXPECT_TRUE(torch::equal(got, expected)) << name << ": " << got << " expected " << expected;
    const std::int64_t element = std::string(name) == "allreduce" ? 4 : 2;
    EXPECT_EQ(traffic.bytes_sent, 32 * element) << name;
    EXPECT_EQ(traffic.bytes_received, 32 * element) << name;
    EXPECT_EQ(traffic.dense_bytes, 32 * 4) << name;
  }
}

// Where rounding happens: each rank's gradient to the wire dtype, each partial sum to it, then the
// average in float32. With two ranks there is one partial sum, so the result is known exactly.
TEST(AllreduceHooks, RoundLikeTheirWireDtype) {
  if (comm().size() > 2) GTEST_SKIP() << "with more ranks MPI may add them in any order";
  const auto mine = [](int rank) {
    torch::manual_seed(90 + rank);
    return torch::randn({32}) * 3;
  };
  for (const auto dtype : {torch::kHalf, torch::kBFloat16}) {
    auto sum = mine(0).to(dtype);
    if (comm().size() == 2)
      sum = (sum.to(torch::kFloat) + mine(1).to(dtype).to(torch::kFloat)).to(dtype);
    const auto expected = sum.to(torch::kFloat).mul_(1.0 / comm().size());
    const auto got = exchanged(std::make_unique<dgc::AllreduceHook>(dtype), mine(comm().rank()));
    EXPECT_TRUE(torch::equal(got, expected)) << dtype;
    EXPECT_FALSE(torch::equal(got, mine(0))) << dtype << ": nothing was rounded";
  }
}

TEST(AllreduceHooks, RejectOtherDtypesAndNames) {
  EXPECT_THAT(dgc::test::error_of([] { dgc::AllreduceHook hook(torch::kDouble); }),
              HasSubstr("the dense allreduce sends float32, float16 or bfloat16, not Double"));
  EXPECT_THAT(dgc::test::error_of([] { dgc::make_allreduce_hook("int8"); }),
              HasSubstr("unknown dense exchange 'int8' (allreduce, fp16 or bf16)"));
}

TEST(DgcHooks, AreMadeByTheirNames) {
  for (const char* name : {"dgc", "dgc_hierarchical", "dgc_reduce_scatter", "dgc_auto"}) {
    EXPECT_EQ(dgc::make_dgc_hook(name, dgc::Compressor())->name(), name);
  }
  EXPECT_THAT(dgc::test::error_of([] { dgc::make_dgc_hook("dgc_ring", dgc::Compressor()); }),
              HasSubstr("unknown DGC exchange 'dgc_ring' (dgc, dgc_hierarchical, "
                        "dgc_reduce_scatter or dgc_auto)"));
}

// A hook written against the public API alone gives the same average as the built-in one.
TEST(CommHook, AHookWrittenOutsideTheLibraryWorks) {
  auto expected = torch::zeros({32});
  for (int r = 0; r < comm().size(); ++r) expected += exact_gradient(r);
  expected.mul_(1.0 / comm().size());
  dgc::TrafficStats traffic;
  const auto got = exchanged(std::make_unique<dgc::test::AllgatherMeanHook>(),
                             exact_gradient(comm().rank()), &traffic);
  EXPECT_TRUE(torch::equal(got, expected));
  EXPECT_EQ(traffic.bytes_received, 32 * 4 * (comm().size() - 1));
}

// DGC at ratio 0.5 on 200 elements, raw slots: a slot of 8 + 100 * 8 + 100 * 4 bytes per rank
// outweighs the 800 bytes of the dense allreduce at any world size, so the bucket goes dense:
// averaged, then the memory's momentum (u = g at the first step), as at a ratio >= 1.
TEST(DgcHook, FallsBackToDenseWhereTheSlotsOutweighTheAllreduce) {
  const auto gradient = [](int rank) {
    return (torch::arange(200, torch::kFloat) - 50) * (rank + 1);
  };
  auto expected = torch::zeros({200});
  for (int r = 0; r < comm().size(); ++r) expected += gradient(r);
  expected.mul_(1.0 / comm().size());
  for (const bool fallback : {true, false}) {
    auto w = torch::zeros({10, 20}, torch::requires_grad());
    dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
    dgc::DgcHookOptions options;
    options.dense_fallback = fallback;
    options.encoding = dgc::WireEncoding::kRaw;
    dgc::DistributedOptimizer opt(
        comm(), sgd, {{"w", w}},
        std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.5)), options));
    (w.view({-1}) * gradient(comm().rank())).sum().backward();
    opt.synchronize();
    const auto& t = opt.last_step_traffic();
    if (fallback) {
      EXPECT_EQ(t.dense_fallback_buckets, 1);
      EXPECT_EQ(t.bytes_sent, 200 * 4);
      EXPECT_TRUE(torch::equal(w.grad().view({-1}), expected));
    } else {
      EXPECT_EQ(t.dense_fallback_buckets, 0);
      EXPECT_EQ(t.bytes_sent, 8 + 100 * 8 + 100 * 4);
      EXPECT_FALSE(torch::equal(w.grad().view({-1}), expected)) << "half of it is not sent";
    }
  }
}

// k = 10 of 200, the top 10 at positions 190-199. Raw: a slot of 8 + 80 + 40 = 128 bytes; 4 ranks
// receive 512 < 800. Encoded (the default): count 1 byte, Rice parameter 1 byte (mean gap
// (200 - 10) / 10 = 19: k = 4), gaps 190 (11 ones, a zero, 4 bits) and nine 0s (a zero, 4 bits):
// 61 bits, 8 bytes; values 40: 50 bytes.
TEST(DgcHook, KeepsTheSparseExchangeWhereItIsSmaller) {
  for (const auto encoding : {dgc::WireEncoding::kRaw, dgc::WireEncoding::kEncoded}) {
    auto w = torch::zeros({10, 20}, torch::requires_grad());
    dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
    dgc::DgcHookOptions options;
    options.encoding = encoding;
    dgc::DistributedOptimizer opt(
        comm(), sgd, {{"w", w}},
        std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.05)), options));
    (w.view({-1}) * torch::arange(200, torch::kFloat)).sum().backward();
    opt.synchronize();
    EXPECT_EQ(opt.last_step_traffic().dense_fallback_buckets, 0);
    EXPECT_EQ(opt.last_step_traffic().bytes_sent, encoding == dgc::WireEncoding::kRaw ? 128 : 50);
    EXPECT_EQ(opt.last_step_traffic().bytes_received,
              (encoding == dgc::WireEncoding::kRaw ? 128 : 50) * (comm().size() - 1));
  }
}

// Encoded messages are weighed at their expected size (full capacity, indices spread evenly):
// at ratio 0.5 of 200, 100 entries of 4 + 2 / 8 bytes and 2 bytes of header, 427 bytes, one
// message per rank. Below the 800 dense bytes on one rank, above from two ranks on.
TEST(DgcHook, WeighsEncodedMessagesAtTheirExpectedSize) {
  auto w = torch::zeros({10, 20}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::DistributedOptimizer opt(comm(), sgd, {{"w", w}},
                                std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.5))));
  (w.view({-1}) * torch::arange(200, torch::kFloat)).sum().backward();
  opt.synchronize();
  EXPECT_EQ(opt.last_step_traffic().dense_fallback_buckets, comm().size() >= 2 ? 1 : 0);
}

// dgc_hierarchical at its two limits, and by hand between them. The suite runs at one node
// (singleton, np 2 and np 4 on this machine), two nodes of two ranks (mpi.suite.emulated.np4) and
// one rank per node (mpi.suite.rank_nodes.np4).

// One rank per node: the same collectives as dgc over the same ranks, so the same training.
TEST(DgcHierarchicalHook, IsDgcWithOneRankPerNode) {
  if (comm().node().size() != 1 || comm().node_count() == 1) {
    GTEST_SKIP() << "needs several nodes of one rank (DGC_EMULATED_NODE_SIZE=1)";
  }
  Trainee flat("dgc"), hierarchical("dgc_hierarchical");
  train(flat.model, *flat.opt, 5);
  train(hierarchical.model, *hierarchical.opt, 5);
  EXPECT_TRUE(torch::equal(flat_parameters(*flat.model), flat_parameters(*hierarchical.model)));
  EXPECT_EQ(hierarchical.opt->last_step_traffic().intra_node_bytes, 0);
}

// A single node: nothing leaves the machine, so every tensor goes dense, as in dgc at a ratio of
// 1: the dense average with the memory's momentum.
TEST(DgcHierarchicalHook, IsTheDenseAverageOnOneNode) {
  if (comm().node_count() != 1) GTEST_SKIP() << "needs a single node";
  const auto run = [](std::unique_ptr<dgc::CommHook> hook) {
    auto model = make_model(5);
    dgc::DGCSGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    dgc::DistributedOptimizer opt(comm(), sgd, model->named_parameters().pairs(), std::move(hook));
    train(model, opt, 5);
    return flat_parameters(*model);
  };
  const auto dense = run(std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(1.0))));
  const auto hierarchical =
      run(std::make_unique<dgc::DgcHierarchicalHook>(dgc::Compressor(dgc_options(0.05))));
  EXPECT_TRUE(torch::equal(dense, hierarchical));
}

// Two or more nodes: each node's mean gradient is compressed (top 10 of 200 with the exact
// threshold), the leaders exchange the selections, every rank gets the nodes' sum / nodes.
TEST(DgcHierarchicalHook, SumsTheNodesSelectionsByHand) {
  if (comm().node_count() < 2) GTEST_SKIP() << "needs two nodes";
  const std::int64_t n = 200, k = 10;
  const int node_size = comm().node().size();
  // Node m's ranks hold roll(1..n, 13 m) scaled by 1, 1.25, ...: distinct magnitudes, other
  // indices on every node, exact sums.
  const auto gradient = [&](int rank) {
    const int node = rank / node_size, local = rank % node_size;
    return torch::arange(1, n + 1, torch::kFloat).roll(13 * node) * (1 + 0.25 * local);
  };
  auto w = torch::zeros({10, 20}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::CompressorOptions o = dgc_options(0.05);
  o.sample_ratio = 1.0;     // the threshold is exact
  dgc::DgcHookOptions raw;  // the traffic below counts raw slots
  raw.encoding = dgc::WireEncoding::kRaw;
  dgc::DistributedOptimizer opt(
      comm(), sgd, {{"w", w}}, std::make_unique<dgc::DgcHierarchicalHook>(dgc::Compressor(o), raw));
  (w.view({-1}) * gradient(comm().rank())).sum().backward();
  opt.synchronize();

  auto expected = torch::zeros({n});
  for (int node = 0; node < comm().node_count(); ++node) {
    auto mean = torch::zeros({n});
    for (int local = 0; local < node_size; ++local) mean += gradient(node * node_size + local);
    mean.mul_(1.0 / node_size);
    const auto top = std::get<1>(mean.abs().topk(k));
    expected.index_add_(0, top, mean.index_select(0, top));
  }
  expected.mul_(1.0 / comm().node_count());
  EXPECT_TRUE(torch::equal(w.grad().view({-1}), expected))
      << (w.grad().view({-1}) - expected).abs().max();
  // The leaders send one slot of 8 + 10 * 8 + 10 * 4 bytes; the node's ranks share the gathered
  // slots, and the node sum of 200 floats stays inside the node.
  const auto& t = opt.last_step_traffic();
  const std::int64_t slot = 128, gathered = slot * comm().node_count();
  const bool leader = comm().node().rank() == 0;
  const std::int64_t node_sum = node_size > 1 ? 2 * n * 4 : 0;
  const std::int64_t broadcast = node_size > 1 ? gathered : 0;
  EXPECT_EQ(t.intra_node_bytes, node_sum + broadcast);
  EXPECT_EQ(t.bytes_sent + t.bytes_received - t.intra_node_bytes,
            leader ? slot + slot * (comm().node_count() - 1) : 0);
}

TEST(DgcHook, RefusesStateOfAnotherFormatVersion) {
  auto w = torch::zeros({10, 20}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::DistributedOptimizer opt(comm(), sgd, {{"w", w}},
                                std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.05))));
  auto& hook = dynamic_cast<dgc::DgcHook&>(opt.hook());
  torch::serialize::OutputArchive archive;
  hook.compressor().save(archive);
  archive.write("dgc.format_version", torch::tensor(std::int64_t{99}), /*is_buffer=*/true);
  std::stringstream bytes;
  archive.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  EXPECT_THAT(dgc::test::error_of([&] { hook.load(in); }),
              HasSubstr("the DGC state in the checkpoint has format version 99; this dgc reads "
                        "version 1"));
}

// FailurePolicy::kThrow: a NaN reaching every rank's DGC memory is thrown by synchronize() on
// every rank, and the job goes on (under kAbortJob it would end: mpi.nan_abort.np2).
TEST(FailurePolicy, ThrowHandsTheFailureToTheCaller) {
  auto w = torch::zeros({10, 20}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::DistributedOptions options;
  options.failure_policy = dgc::FailurePolicy::kThrow;
  dgc::DistributedOptimizer opt(comm(), sgd, {{"w", w}},
                                std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.05))),
                                options);
  auto grad = torch::ones({200});
  grad[3] = std::numeric_limits<float>::quiet_NaN();
  (w.view({-1}) * grad).sum().backward();
  EXPECT_THAT(dgc::test::error_of([&] { opt.synchronize(); }),
              HasSubstr("a NaN or Inf entered the DGC memory of tensor 'w'"));
}

// Ranks that run different hooks stop at the first bucket with one error naming it, before any
// payload moves.
TEST(CommHook, RanksMustRunTheSameHook) {
  if (comm().size() == 1) GTEST_SKIP() << "needs two ranks";
  auto w = torch::zeros({10, 20}, torch::requires_grad());
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::DistributedOptions options;
  options.failure_policy = dgc::FailurePolicy::kThrow;
  dgc::DistributedOptimizer opt(comm(), sgd, {{"w", w}},
                                dgc::make_allreduce_hook(comm().rank() == 0 ? "allreduce" : "fp16"),
                                options);
  (w.view({-1}) * torch::ones({200})).sum().backward();
  EXPECT_THAT(dgc::test::error_of([&] { opt.synchronize(); }),
              HasSubstr("runs another comm hook than rank 0"));
}

// The error of the first step when this rank's DGC hook has `options` and the failure policy
// throws ("" if none).
std::string first_step_error(const dgc::DgcHookOptions& options) {
  auto w = torch::zeros({10, 20}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::DistributedOptions distributed;
  distributed.failure_policy = dgc::FailurePolicy::kThrow;
  dgc::DistributedOptimizer opt(
      comm(), sgd, {{"w", w}},
      std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(0.05)), options), distributed);
  (w.view({-1}) * torch::ones({200})).sum().backward();
  return dgc::test::error_of([&] { opt.synchronize(); });
}

// Ranks that encode differently (a setting changed on one host) stop at the layout check with
// one error naming both layouts, before any message is misread.
TEST(CommHook, RanksMustShareTheWireEncoding) {
  if (comm().size() == 1) GTEST_SKIP() << "needs two ranks";
  dgc::DgcHookOptions options;
  options.encoding = comm().rank() == 0 ? dgc::WireEncoding::kRaw : dgc::WireEncoding::kEncoded;
  const std::string error = first_step_error(options);
  EXPECT_THAT(error, HasSubstr("the ranks disagree on a bucket's exchange"));
  EXPECT_THAT(error, HasSubstr("in raw slots of 128 bytes"));
  EXPECT_THAT(error, HasSubstr("encoded, 10 entries in all, values float32"));
}

// A rank that sends through the node leaders while another does not would mismatch the
// collectives: the same check names both.
TEST(CommHook, RanksMustAgreeOnTheHierarchicalAllgather) {
  if (comm().size() == 1) GTEST_SKIP() << "needs two ranks";
  dgc::DgcHookOptions options;
  options.hierarchical_allgather = comm().rank() == 0;
  const std::string error = first_step_error(options);
  EXPECT_THAT(error, HasSubstr("the ranks disagree on a bucket's exchange"));
  EXPECT_THAT(error, HasSubstr("allgather through the node leaders, 1 sparse tensor(s)"));
}

}  // namespace
