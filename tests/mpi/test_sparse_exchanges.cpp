// The sparse exchanges of issue 14 under a real launcher (a world of one, mpirun -np 2, 4 and 8):
// `dgc_reduce_scatter` against the result worked out from its definition (every rank's
// selection from a Compressor of the same settings, the sums per region in rank order, each
// owner's quota of the largest), including its residuals, on gradients that make the corner
// cases (empty selections, equal magnitudes, a selection covering the whole tensor); the encoded
// wire format against the raw one (bitwise the same training, fewer bytes); the allgather through
// the node leaders against the flat one (bitwise the same training, the network left to the
// leaders, malformed blocks refused). Every rank runs every test with the same calls in the same
// order.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dgc/compressor.h"
#include "dgc/distributed_optimizer.h"
#include "dgc/error.h"
#include "dgc/exchange_cost.h"
#include "dgc/hooks/dgc_auto_hook.h"
#include "dgc/hooks/dgc_hierarchical_hook.h"
#include "dgc/hooks/dgc_hook.h"
#include "dgc/hooks/dgc_reduce_scatter_hook.h"
#include "dgc/sgd.h"
#include "error_of.h"
#include "hooks/dgc_bucket.h"
#include "leaders_allgather.h"
#include "mpi_test.h"
#include "training_fixture.h"

namespace {

using dgc::test::comm;
using dgc::test::flat_parameters;
using dgc::test::identical_on_all_ranks;
using dgc::test::make_model;
using dgc::test::train;

enum class Pattern {
  kDistinct,        // distinct magnitudes, another order on every rank
  kOddRanksZero,    // odd ranks' gradients are zero
  kEqualMagnitude,  // |g| = 1 everywhere, signs by rank and position: ties everywhere
  kSharedTop,       // every rank's largest entries at the same positions
};

struct Case {
  const char* name;
  Pattern pattern;
  double ratio;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

torch::Tensor gradient(Pattern pattern, int rank, std::int64_t n, std::int64_t salt) {
  const auto i = torch::arange(n, torch::kFloat);
  switch (pattern) {
    case Pattern::kDistinct:
      return ((i + 1) * (rank % 2 == 0 ? 1.0 : -1.0) / n).roll(3 * rank + salt);
    case Pattern::kOddRanksZero:
      return rank % 2 == 1 ? torch::zeros({n}) : ((i * 7 + salt) % 13 - 6) * (rank + 1);
    case Pattern::kEqualMagnitude:
      return torch::where((i + rank + salt).fmod(3) == 0, torch::ones({n}), -torch::ones({n}));
    case Pattern::kSharedTop:
      return (i.fmod(5) == 0).to(torch::kFloat) * (10 + rank) + (i + salt) * 1e-3;
  }
  return {};
}

struct Selection {
  std::vector<std::int64_t> indices;
  std::vector<float> values;
};

// What `dgc_reduce_scatter` must produce for one tensor of n elements, from each rank's
// selection: the applied positions with their sums (ascending), by its definition.
std::vector<std::pair<std::int64_t, float>> kept_by_definition(const std::vector<Selection>& sel,
                                                               std::int64_t n,
                                                               std::int64_t capacity) {
  const int world = static_cast<int>(sel.size());
  const std::int64_t quota = (capacity + world - 1) / world;
  std::vector<std::pair<std::int64_t, float>> kept;
  for (int owner = 0; owner < world; ++owner) {
    const std::int64_t start = owner * (n / world) + std::min<std::int64_t>(owner, n % world);
    const std::int64_t end =
        (owner + 1) * (n / world) + std::min<std::int64_t>(owner + 1, n % world);
    // Sums in rank order, position by position.
    std::vector<float> sum(static_cast<std::size_t>(end - start), 0.0f);
    std::vector<bool> touched(sum.size(), false);
    for (const auto& s : sel) {
      for (std::size_t j = 0; j < s.indices.size(); ++j) {
        const std::int64_t i = s.indices[j];
        if (i < start || i >= end) continue;
        auto& into = sum[static_cast<std::size_t>(i - start)];
        into = touched[static_cast<std::size_t>(i - start)] ? into + s.values[j] : s.values[j];
        touched[static_cast<std::size_t>(i - start)] = true;
      }
    }
    std::vector<std::pair<std::int64_t, float>> region;
    for (std::size_t p = 0; p < sum.size(); ++p) {
      if (touched[p]) region.emplace_back(start + static_cast<std::int64_t>(p), sum[p]);
    }
    // The largest |sum| first, the lower position among equals.
    std::sort(region.begin(), region.end(), [](const auto& a, const auto& b) {
      return std::fabs(a.second) != std::fabs(b.second) ? std::fabs(a.second) > std::fabs(b.second)
                                                        : a.first < b.first;
    });
    if (static_cast<std::int64_t>(region.size()) > quota) region.resize(quota);
    std::sort(region.begin(), region.end());
    kept.insert(kept.end(), region.begin(), region.end());
  }
  return kept;
}

// What the allgather (`dgc`) applies: every rank's selection summed in rank order.
std::vector<std::pair<std::int64_t, float>> summed_by_definition(const std::vector<Selection>& sel,
                                                                 std::int64_t n) {
  std::vector<float> sum(static_cast<std::size_t>(n), 0.0f);
  std::vector<bool> touched(sum.size(), false);
  for (const auto& s : sel) {
    for (std::size_t j = 0; j < s.indices.size(); ++j) {
      sum[static_cast<std::size_t>(s.indices[j])] += s.values[j];
      touched[static_cast<std::size_t>(s.indices[j])] = true;
    }
  }
  std::vector<std::pair<std::int64_t, float>> out;
  for (std::size_t i = 0; i < sum.size(); ++i) {
    if (touched[i]) out.emplace_back(static_cast<std::int64_t>(i), sum[i]);
  }
  return out;
}

// One step on two weights in one bucket ([4, 8] and [3, 5]: regions of unequal length at some
// world sizes), encoded messages: the averaged gradient and this rank's residual equal the
// scheme's definition, worked out from every rank's selection.
void check_definition(const Case& c, bool reduce_scatter) {
  const int world = comm().size(), me = comm().rank();
  dgc::CompressorOptions o = dgc::test::dgc_options(c.ratio);
  o.sample_ratio = 1.0;
  const std::vector<std::vector<std::int64_t>> shapes = {{4, 8}, {3, 5}};
  std::vector<torch::Tensor> weights;
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (std::size_t t = 0; t < shapes.size(); ++t) {
    weights.push_back(torch::zeros(shapes[t], torch::requires_grad()));
    named.emplace_back("w" + std::to_string(t), weights.back());
  }
  dgc::DGCSGD sgd(weights, torch::optim::SGDOptions(0.1));
  dgc::DgcHookOptions sparse_always;
  sparse_always.dense_fallback = false;  // ratio 0.99 must stay sparse
  std::unique_ptr<dgc::DgcHook> hook;
  if (reduce_scatter) {
    hook = std::make_unique<dgc::DgcReduceScatterHook>(dgc::Compressor(o), sparse_always);
  } else {
    hook = std::make_unique<dgc::DgcHook>(dgc::Compressor(o), sparse_always);
  }
  auto* scatter = hook.get();
  dgc::DistributedOptimizer opt(comm(), sgd, named, std::move(hook));
  torch::Tensor loss = torch::zeros({});
  for (std::size_t t = 0; t < shapes.size(); ++t) {
    const auto n = weights[t].numel();
    loss = loss + (weights[t].view({-1}) * gradient(c.pattern, me, n, t)).sum();
  }
  loss.backward();
  opt.synchronize();

  for (std::size_t t = 0; t < shapes.size(); ++t) {
    SCOPED_TRACE("tensor w" + std::to_string(t));
    const auto n = weights[t].numel();
    // Each rank's selection, from a compressor of the same settings in the same state.
    std::vector<Selection> sel(static_cast<std::size_t>(world));
    torch::Tensor my_velocity;
    std::int64_t capacity = 0;
    for (int r = 0; r < world; ++r) {
      dgc::Compressor reference(o);
      // The hook's compressor has both tensors; their sampling draws follow registration order.
      for (std::size_t u = 0; u < shapes.size(); ++u)
        reference.add("w" + std::to_string(u), shapes[u]);
      for (std::size_t u = 0; u < t; ++u) {
        reference.compress("w" + std::to_string(u), gradient(c.pattern, r, weights[u].numel(), u));
      }
      const auto s = reference.compress("w" + std::to_string(t), gradient(c.pattern, r, n, t));
      capacity = reference.plan("w" + std::to_string(t)).num_selects;
      const auto idx = s.indices.contiguous();
      const auto val = s.values.contiguous();
      sel[r].indices.assign(idx.data_ptr<std::int64_t>(),
                            idx.data_ptr<std::int64_t>() + idx.numel());
      sel[r].values.assign(val.data_ptr<float>(), val.data_ptr<float>() + val.numel());
      if (r == me) my_velocity = reference.memory().velocity("w" + std::to_string(t)).clone();
    }
    const auto kept =
        reduce_scatter ? kept_by_definition(sel, n, capacity) : summed_by_definition(sel, n);
    auto expected = torch::zeros({n});
    const float scale = static_cast<float>(1.0 / world);
    for (const auto& [i, sum] : kept) expected[i] = sum * scale;
    EXPECT_TRUE(torch::equal(weights[t].grad().view({-1}), expected))
        << weights[t].grad().view({-1}) << expected;
    // What this rank selected and nobody kept is back in its residual, exactly as selected (the
    // allgather applies every selection).
    auto* v = my_velocity.data_ptr<float>();
    for (std::size_t j = 0; reduce_scatter && j < sel[me].indices.size(); ++j) {
      const auto i = sel[me].indices[j];
      const bool applied =
          std::any_of(kept.begin(), kept.end(), [i](const auto& k) { return k.first == i; });
      if (!applied) v[i] += sel[me].values[j];
    }
    EXPECT_TRUE(torch::equal(scatter->compressor().memory().velocity("w" + std::to_string(t)),
                             my_velocity));
  }
  EXPECT_EQ(opt.last_step_traffic().dense_fallback_buckets, 0);
}

class SparseSchemes : public testing::TestWithParam<Case> {};

TEST_P(SparseSchemes, ReduceScatterEqualsItsDefinition) { check_definition(GetParam(), true); }
TEST_P(SparseSchemes, AllgatherEqualsItsDefinition) { check_definition(GetParam(), false); }

INSTANTIATE_TEST_SUITE_P(
    Cases, SparseSchemes,
    testing::Values(Case{"distinct", Pattern::kDistinct, 0.25},
                    Case{"odd_ranks_zero", Pattern::kOddRanksZero, 0.25},
                    Case{"equal_magnitudes", Pattern::kEqualMagnitude, 0.25},
                    Case{"shared_top", Pattern::kSharedTop, 0.25},
                    // Ratio 0.99: each rank's selection covers the whole tensor.
                    Case{"whole_tensor", Pattern::kEqualMagnitude, 0.99}),
    [](const auto& info) { return std::string(info.param.name); });

// A model trained with one exchange, its parameters after a few steps and its last traffic.
struct Trained {
  torch::Tensor parameters;
  dgc::TrafficStats traffic;
};

template <typename Hook>
Trained trained(dgc::DgcHookOptions options, int steps = 5) {
  auto model = make_model(11);
  dgc::DGCSGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  dgc::DistributedOptions distributed;
  distributed.bucket_bytes = 1024;  // several buckets
  dgc::DistributedOptimizer opt(
      comm(), sgd, model->named_parameters().pairs(),
      std::make_unique<Hook>(dgc::Compressor(dgc::test::dgc_options(0.05)), options), distributed);
  train(model, opt, steps);
  return {flat_parameters(*model).clone(), opt.last_step_traffic()};
}

dgc::DgcHookOptions with_encoding(dgc::WireEncoding encoding) {
  dgc::DgcHookOptions o;
  o.encoding = encoding;
  // The fallback weighs each encoding's own size, and may take different buckets dense.
  o.dense_fallback = false;
  return o;
}

// The encoded format carries the same selections: training ends bitwise where the raw slots
// take it, with fewer bytes on the wire.
TEST(EncodedMessages, TrainExactlyAsTheRawSlots) {
  const auto encoded = trained<dgc::DgcHook>(with_encoding(dgc::WireEncoding::kEncoded));
  const auto raw = trained<dgc::DgcHook>(with_encoding(dgc::WireEncoding::kRaw));
  EXPECT_TRUE(torch::equal(encoded.parameters, raw.parameters));
  EXPECT_TRUE(identical_on_all_ranks(encoded.parameters));
  EXPECT_LT(encoded.traffic.bytes_sent, raw.traffic.bytes_sent);
  if (comm().size() > 1) EXPECT_LT(encoded.traffic.bytes_received, raw.traffic.bytes_received);
  const auto hierarchical =
      trained<dgc::DgcHierarchicalHook>(with_encoding(dgc::WireEncoding::kEncoded));
  const auto hierarchical_raw =
      trained<dgc::DgcHierarchicalHook>(with_encoding(dgc::WireEncoding::kRaw));
  EXPECT_TRUE(torch::equal(hierarchical.parameters, hierarchical_raw.parameters));
}

// The allgather through the node leaders (DgcHookOptions::hierarchical_allgather) takes its own
// path only with several nodes, one of several ranks: mpi.suite.emulated.np4 (2 nodes of 2) and
// mpi.leaders.np8 (4 nodes of 2); elsewhere it is the flat allgather.
bool through_leaders_here() {
  return comm().node_count() > 1 && comm().node_count() < comm().size();
}

dgc::DgcHookOptions through_leaders(dgc::WireEncoding encoding) {
  auto o = with_encoding(encoding);
  o.hierarchical_allgather = true;
  return o;
}

// The same messages arrive in the same order: training ends bitwise where the flat allgather
// takes it, in both encodings.
TEST(HierarchicalAllgather, TrainsExactlyAsTheFlatOne) {
  for (const auto encoding : {dgc::WireEncoding::kEncoded, dgc::WireEncoding::kRaw}) {
    const auto flat = trained<dgc::DgcHook>(with_encoding(encoding));
    const auto leaders = trained<dgc::DgcHook>(through_leaders(encoding));
    EXPECT_TRUE(torch::equal(flat.parameters, leaders.parameters));
    EXPECT_TRUE(identical_on_all_ranks(leaders.parameters));
    EXPECT_EQ(leaders.traffic.intra_node_bytes > 0, through_leaders_here());
  }
}

// The reduce-scatter's kept sums take the same path; its scatter stays flat. Training ends
// bitwise where the flat allgatherv takes it, and a rank other than its node's leader then moves
// fewer bytes over the network (its scatter alone).
TEST(HierarchicalAllgather, ReduceScatterTrainsExactlyAsWithoutIt) {
  const auto encoding = dgc::WireEncoding::kEncoded;
  const auto flat = trained<dgc::DgcReduceScatterHook>(with_encoding(encoding));
  const auto leaders = trained<dgc::DgcReduceScatterHook>(through_leaders(encoding));
  EXPECT_TRUE(torch::equal(flat.parameters, leaders.parameters));
  EXPECT_TRUE(identical_on_all_ranks(leaders.parameters));
  EXPECT_EQ(flat.traffic.intra_node_bytes, 0);
  EXPECT_EQ(leaders.traffic.intra_node_bytes > 0, through_leaders_here());
  const auto network = [](const dgc::TrafficStats& t) {
    return t.bytes_sent + t.bytes_received - t.intra_node_bytes;
  };
  if (through_leaders_here() && comm().node().rank() != 0) {
    EXPECT_LT(network(leaders.traffic), network(flat.traffic));
  }
}

// Only the leaders use the network, each sending its node's block (every rank's slot size and
// slot) once; the node's slots, and the blocks with their sizes, stay inside the node.
TEST(HierarchicalAllgather, CrossesTheNetworkOnlyBetweenLeaders) {
  if (!through_leaders_here()) GTEST_SKIP() << "needs several nodes, one of several ranks";
  auto w = torch::zeros({10, 20}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::DistributedOptimizer opt(
      comm(), sgd, {{"w", w}},
      std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc::test::dgc_options(0.05)),
                                     through_leaders(dgc::WireEncoding::kRaw)));
  (w.view({-1}) * torch::arange(1, 201, torch::kFloat).roll(comm().rank())).sum().backward();
  opt.synchronize();
  const auto& t = opt.last_step_traffic();
  // One slot: 8 + 10 * 8 + 10 * 4 bytes (10 of 200 selected).
  const std::int64_t slot = 128, node_size = comm().node().size();
  const std::int64_t nodes = comm().node_count(), block = node_size * (8 + slot);
  EXPECT_EQ(t.intra_node_bytes, slot * node_size + 8 * nodes + block * nodes);
  EXPECT_EQ(t.bytes_sent + t.bytes_received - t.intra_node_bytes,
            comm().node().rank() == 0 ? block * nodes : 0);
}

// dgc_auto weighs the allgather through the leaders as its three collectives, and as the flat
// one where the path is not taken (one node, or one rank per node). A 50-byte message at 2 nodes
// of 2 ranks: the node's allgatherv of it, the leaders' of 2 sizes and 2 messages (116 bytes),
// the node's broadcast of all 4.
TEST(HierarchicalAllgather, IsPredictedAsItsCollectives) {
  // The path is taken where it spares a host link: asked for, several nodes of several ranks.
  EXPECT_TRUE(dgc::gathers_through_leaders(true, {4, 2}));
  EXPECT_FALSE(dgc::gathers_through_leaders(false, {4, 2}));
  EXPECT_FALSE(dgc::gathers_through_leaders(true, {4, 4}));
  EXPECT_FALSE(dgc::gathers_through_leaders(true, {4, 1}));

  const dgc::BucketBytes bytes{800, 800, 50, 0};
  const dgc::ExchangeCosts costs{{1e-4, 1e6}, {1e-6, 1e9}};
  const auto predict = [&](int world, int nodes, bool leaders) {
    return dgc::predict_seconds(dgc::DgcScheme::kAllgather, bytes, {world, nodes}, costs,
                                dgc::WireEncoding::kEncoded, leaders);
  };
  const double node_allgather = 2 * 1e-6 + 50 / 1e9;
  const double leaders_allgather = 2 * 1e-4 + 116 / 1e6;
  const double node_broadcast = 1e-6 + 200 / 1e9;
  EXPECT_NEAR(predict(4, 2, true), node_allgather + leaders_allgather + node_broadcast, 1e-12);
  EXPECT_LT(predict(4, 2, true), predict(4, 2, false));
  EXPECT_EQ(predict(4, 4, true), predict(4, 4, false));
  EXPECT_EQ(predict(4, 1, true), predict(4, 1, false));

  // The reduce-scatter's kept sums (50 / 4 bytes per rank) take the same three collectives,
  // after its flat scatter of the message.
  const auto predict_scatter = [&](int world, int nodes, bool leaders) {
    return dgc::predict_seconds(dgc::DgcScheme::kReduceScatter, bytes, {world, nodes}, costs,
                                dgc::WireEncoding::kEncoded, leaders);
  };
  const double scatter = 2 * 3 * 1e-4 + 0.75 * 50 / 1e6;
  const double kept_through_leaders = (2 * 1e-6 + 12.5 / 1e9) + (2 * 1e-4 + 41 / 1e6) +
                                      (1e-6 + 50 / 1e9);
  EXPECT_NEAR(predict_scatter(4, 2, true), scatter + kept_through_leaders, 1e-12);
  EXPECT_LT(predict_scatter(4, 2, true), predict_scatter(4, 2, false));
  EXPECT_EQ(predict_scatter(4, 4, true), predict_scatter(4, 4, false));
  EXPECT_EQ(predict_scatter(4, 1, true), predict_scatter(4, 1, false));
}

// The blocks another node's leader sent: node k's ranks' message sizes, then their messages.
// Here rank r's message is node_rank_of(r) + 1 bytes of value r.
struct NodeBlocks {
  std::vector<std::int64_t> bytes;
  std::vector<std::uint8_t> data;
};
NodeBlocks node_blocks() {
  NodeBlocks b;
  for (int k = 0; k < comm().node_count(); ++k) {
    const std::size_t start = b.data.size();
    std::vector<std::uint8_t> messages;
    for (int r = 0; r < comm().size(); ++r) {
      if (comm().node_of(r) != k) continue;
      const std::int64_t size = comm().node_rank_of(r) + 1;
      const auto at = b.data.size();
      b.data.resize(at + 8);
      std::memcpy(b.data.data() + at, &size, 8);
      messages.insert(messages.end(), static_cast<std::size_t>(size), static_cast<std::uint8_t>(r));
    }
    b.data.insert(b.data.end(), messages.begin(), messages.end());
    b.bytes.push_back(static_cast<std::int64_t>(b.data.size() - start));
  }
  return b;
}

void set_size(NodeBlocks& b, int node, int node_rank, std::int64_t size) {
  std::int64_t start = 0;
  for (int k = 0; k < node; ++k) start += b.bytes[k];
  std::memcpy(b.data.data() + start + 8 * node_rank, &size, 8);
}

// A leader's block is read by world rank, and every size in it is checked before a byte is
// copied: a size past its block, a negative one, a block shorter than its sizes or longer than
// its messages is one error naming the node.
TEST(HierarchicalAllgather, ALeadersMalformedBlockIsAnError) {
  if (!through_leaders_here()) GTEST_SKIP() << "needs several nodes, one of several ranks";
  std::vector<std::int64_t> bytes_per_rank;
  std::vector<std::uint8_t> recv;
  const auto unpack = [&](const NodeBlocks& b) {
    return dgc::test::thrown_error_of(
        [&] { dgc::detail::unpack_node_blocks(comm(), b.bytes, b.data, bytes_per_rank, recv); });
  };
  const auto valid = node_blocks();
  dgc::detail::unpack_node_blocks(comm(), valid.bytes, valid.data, bytes_per_rank, recv);
  std::size_t at = 0;
  for (int r = 0; r < comm().size(); ++r) {
    ASSERT_EQ(bytes_per_rank[r], comm().node_rank_of(r) + 1);
    for (int i = 0; i <= comm().node_rank_of(r); ++i) ASSERT_EQ(recv[at++], r);
  }
  EXPECT_EQ(at, recv.size());

  const int last = comm().node_count() - 1;
  auto too_large = node_blocks();
  set_size(too_large, last, 0, std::int64_t{1} << 40);
  EXPECT_THAT(unpack(too_large), testing::HasSubstr("node " + std::to_string(last) +
                                                    "'s leader sent a message of 1099511627776"));
  auto negative = node_blocks();
  set_size(negative, 0, 0, -1);
  EXPECT_THAT(unpack(negative), testing::HasSubstr("node 0's leader sent a message of -1 bytes"));
  auto short_sizes = node_blocks();
  set_size(short_sizes, 0, 0, 0);  // one byte of node 0 left over
  EXPECT_THAT(unpack(short_sizes), testing::HasSubstr("node 0's leader sent 1 bytes beyond"));
  auto truncated = node_blocks();
  truncated.data.resize(truncated.data.size() - truncated.bytes[last]);
  truncated.bytes[last] = 8;
  truncated.data.resize(truncated.data.size() + 8);
  EXPECT_THAT(unpack(truncated), testing::HasSubstr("node " + std::to_string(last) +
                                                    "'s leader sent 8 bytes, less than the sizes"));
  auto miscounted = node_blocks();
  miscounted.bytes[0] += 1;
  EXPECT_THAT(unpack(miscounted), testing::HasSubstr("blocks of"));
}

// Raw slots have one size on every rank. The layout check makes ranks agree on it before any
// exchange, so only a peer that breaks the protocol sends another; the slots are then read at
// their agreed size, so a leader's block of the wrong size must be an error naming the rank,
// before decode reads past it.
TEST(HierarchicalAllgather, ARawSlotOfTheWrongSizeIsAnError) {
  dgc::detail::DgcBucket bucket;
  bucket.encoding = dgc::WireEncoding::kRaw;
  bucket.layout.bytes = 16;
  const int last = comm().size() - 1;
  bucket.send.assign(comm().rank() == last ? 24 : 16, static_cast<std::uint8_t>(comm().rank()));
  dgc::TrafficStats traffic;
  EXPECT_THAT(dgc::test::thrown_error_of([&] { bucket.gather_through_leaders(comm(), traffic); }),
              testing::HasSubstr("node " + std::to_string(comm().node_of(last)) +
                                 "'s leader sent a raw slot of 24 bytes for rank " +
                                 std::to_string(last) + ", expected 16"));

  bucket.send.assign(16, static_cast<std::uint8_t>(comm().rank()));
  bucket.gather_through_leaders(comm(), traffic);
  ASSERT_EQ(bucket.received.size(), 16u * static_cast<std::size_t>(comm().size()));
  for (int r = 0; r < comm().size(); ++r) EXPECT_EQ(bucket.received[16 * r + 15], r);
}

// On one rank there is one region and its quota is the capacity: the exchange is `dgc`'s.
TEST(ReduceScatterLimits, OnOneRankItIsDgc) {
  if (comm().size() != 1) GTEST_SKIP() << "a world of one only";
  const auto scatter = trained<dgc::DgcReduceScatterHook>({});
  const auto flat = trained<dgc::DgcHook>({});
  EXPECT_TRUE(torch::equal(scatter.parameters, flat.parameters));
}

TEST(ReduceScatterLimits, RawSlotsAreAnError) {
  auto model = make_model(11);
  dgc::DGCSGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  EXPECT_THAT(dgc::test::thrown_error_of([&] {
                dgc::DistributedOptimizer(comm(), sgd, model->named_parameters().pairs(),
                                          std::make_unique<dgc::DgcReduceScatterHook>(
                                              dgc::Compressor(dgc::test::dgc_options(0.05)),
                                              with_encoding(dgc::WireEncoding::kRaw)));
              }),
              testing::HasSubstr("dgc_reduce_scatter sends encoded messages only"));
}

// dgc_auto with one scheme forced trains exactly as the hook of that scheme (the fallback off in
// both, so that neither goes dense on its own).
TEST(AutoHook, AForcedSchemeIsThatSchemesHook) {
  dgc::DgcHookOptions sparse;
  sparse.dense_fallback = false;
  const auto forced = [&](dgc::DgcScheme scheme) {
    auto model = make_model(11);
    dgc::DGCSGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
    dgc::DistributedOptions distributed;
    distributed.bucket_bytes = 1024;
    dgc::DgcAutoOptions choice;
    choice.force = scheme;
    choice.costs = dgc::ExchangeCosts{};  // not used when forced; saves the measurement
    dgc::DistributedOptimizer opt(
        comm(), sgd, model->named_parameters().pairs(),
        std::make_unique<dgc::DgcAutoHook>(dgc::Compressor(dgc::test::dgc_options(0.05)), sparse,
                                           choice),
        distributed);
    train(model, opt, 5);
    return flat_parameters(*model).clone();
  };
  EXPECT_TRUE(
      torch::equal(forced(dgc::DgcScheme::kAllgather), trained<dgc::DgcHook>(sparse).parameters));
  EXPECT_TRUE(torch::equal(forced(dgc::DgcScheme::kReduceScatter),
                           trained<dgc::DgcReduceScatterHook>(sparse).parameters));
  EXPECT_TRUE(torch::equal(forced(dgc::DgcScheme::kHierarchical),
                           trained<dgc::DgcHierarchicalHook>(sparse).parameters));
  const auto dense = forced(dgc::DgcScheme::kDense);
  EXPECT_TRUE(identical_on_all_ranks(dense));
  EXPECT_FALSE(torch::equal(dense, trained<dgc::DgcHook>(sparse).parameters));
}

// The scheme each bucket takes is the candidate of least predicted time under the configured
// costs (dgc::predict_seconds, the public model), ties to the earlier of dense, allgather,
// reduce-scatter, hierarchical. One [10, 20] weight at ratio 0.05: 10 entries, an expected
// message of 2 + 8 (10 gaps of 4 + 2 bits) + 40 bytes; 800 dense bytes.
TEST(AutoHook, TakesTheSchemeOfLeastPredictedTime) {
  const dgc::BucketBytes bytes{800, 800, 50, 0};
  const int world = comm().size(), nodes = comm().node_count();
  const auto link = [](double latency, double bandwidth) {
    return dgc::LinkCost{latency, bandwidth};
  };
  for (const dgc::ExchangeCosts costs :
       {dgc::ExchangeCosts{link(1e-3, 1e12), link(0, 1e15)},      // latency rules
        dgc::ExchangeCosts{link(0, 1e6), link(0, 1e15)},          // bandwidth rules
        dgc::ExchangeCosts{link(1e-5, 1e8), link(1e-4, 1e7)}}) {  // a slow node link
    std::vector<dgc::DgcScheme> candidates = {dgc::DgcScheme::kDense, dgc::DgcScheme::kAllgather,
                                              dgc::DgcScheme::kReduceScatter};
    if (nodes > 1) candidates.push_back(dgc::DgcScheme::kHierarchical);
    dgc::DgcScheme expected = candidates.front();
    double best = -1;
    for (const auto s : candidates) {
      const double t =
          dgc::predict_seconds(s, bytes, {world, nodes}, costs, dgc::WireEncoding::kEncoded);
      if (best < 0 || t < best) {
        best = t;
        expected = s;
      }
    }
    auto w = torch::zeros({10, 20}, torch::requires_grad());
    dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
    dgc::DgcAutoOptions choice;
    choice.costs = costs;
    auto hook = std::make_unique<dgc::DgcAutoHook>(dgc::Compressor(dgc::test::dgc_options(0.05)),
                                                   dgc::DgcHookOptions{}, choice);
    auto* automatic = hook.get();
    dgc::DistributedOptimizer opt(comm(), sgd, {{"w", w}}, std::move(hook));
    (w.view({-1}) * torch::arange(200, torch::kFloat)).sum().backward();
    opt.synchronize();
    SCOPED_TRACE(automatic->describe_choices());
    ASSERT_EQ(automatic->bucket_schemes().size(), 1u);
    EXPECT_EQ(dgc::scheme_name(automatic->bucket_schemes()[0]),
              std::string(dgc::scheme_name(expected)));
    EXPECT_TRUE(identical_on_all_ranks(w.grad().view({-1})));
  }
}

// A bucket that turns hierarchical when the warm-up ends (2 nodes of 2 ranks): its ranks' memories
// differ after the allgather's steps; the switch gives every rank of a node the node's mean, so
// from then on they select alike and keep the same memory. Costs chosen so that the choice flips
// with the message: a 1 ms network latency and a 300 kB/s node link make the allgather cost 6 ms
// and the hierarchical exchange 2 ms + (800 + 2 M) / 300 kB/s: 7.5 ms at ratio 0.5 (M = 427
// bytes), 5 ms at 0.05 (M = 50).
TEST(AutoHook, SwitchingToHierarchicalSharesTheNodesMemory) {
  if (comm().node_count() != 2 || comm().node().size() != 2) {
    GTEST_SKIP() << "needs 2 nodes of 2 ranks (DGC_EMULATED_NODE_SIZE=2, np 4)";
  }
  dgc::CompressorOptions o = dgc::test::dgc_options(0.05);
  o.warmup_epochs = 1;
  o.warmup_coeff = std::vector<double>{0.5};
  dgc::DgcHookOptions sparse;
  sparse.dense_fallback = false;  // keep dense out of the candidates
  dgc::DgcAutoOptions choice;
  choice.costs = dgc::ExchangeCosts{{1e-3, 1e15}, {0, 3e5}};
  auto w = torch::zeros({10, 20}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  auto hook = std::make_unique<dgc::DgcAutoHook>(dgc::Compressor(o), sparse, choice);
  auto* automatic = hook.get();
  dgc::DistributedOptimizer opt(comm(), sgd, {{"w", w}}, std::move(hook));
  const auto step = [&](int k) {
    opt.zero_grad();
    torch::manual_seed(100 * comm().rank() + k);
    (w.view({-1}) * torch::randn({200})).sum().backward();
    opt.step();
  };
  const auto node_agrees = [&](const torch::Tensor& t) {
    auto all = t.contiguous().clone();
    auto mine = all.clone();
    comm().node().allreduce(all, dgc::ReduceOp::kAverage);
    return torch::equal(all, mine);  // the node's mean is every rank's own only if they agree
  };
  opt.set_epoch(0);
  for (int k = 0; k < 3; ++k) step(k);
  ASSERT_EQ(automatic->bucket_schemes()[0], dgc::DgcScheme::kAllgather)
      << automatic->describe_choices();
  auto& memory = automatic->compressor().memory();
  EXPECT_FALSE(node_agrees(memory.velocity("w"))) << "the flat steps should leave rank memories";
  opt.set_epoch(1);
  for (int k = 3; k < 6; ++k) step(k);
  ASSERT_EQ(automatic->bucket_schemes()[0], dgc::DgcScheme::kHierarchical)
      << automatic->describe_choices();
  EXPECT_TRUE(node_agrees(memory.velocity("w")));
  EXPECT_TRUE(node_agrees(memory.momentum("w")));
  EXPECT_TRUE(identical_on_all_ranks(w.detach().view({-1})));
}

// Measured costs: every rank ends with the same figures (the slowest rank's), and they are
// usable (positive latency where there is a link, finite bandwidth).
TEST(AutoHook, MeasuredCostsAgreeOnEveryRank) {
  const auto costs = dgc::measure_exchange_costs(comm());
  const double figures[4] = {costs.network.latency_seconds, costs.network.bytes_per_second,
                             costs.node.latency_seconds, costs.node.bytes_per_second};
  auto mine = torch::tensor({figures[0], figures[1], figures[2], figures[3]}, torch::kDouble);
  EXPECT_TRUE(identical_on_all_ranks(mine));
  EXPECT_GT(costs.network.bytes_per_second, 0);
  EXPECT_GT(costs.node.bytes_per_second, 0);
  if (comm().size() > 1) EXPECT_GT(costs.network.latency_seconds, 0);
}

}  // namespace
