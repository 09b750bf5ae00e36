// The Communicator's nodes: the real ones (every rank of these tests shares one machine, so one
// node) and emulated ones, with the collectives on node() and cross_node(). Run alone, under
// mpirun -np 2 and -np 4, and at np 4 with DGC_EMULATED_NODE_SIZE=2 (mpi.suite.emulated.np4),
// where the binary's own Communicator has 2 nodes of 2 ranks. Like test_communicator.cpp, every
// rank calls the same collectives in the same order and asserts with EXPECT after them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/error.h"
#include "error_of.h"
#include "mpi_test.h"

namespace {

using dgc::CommunicatorOptions;
using dgc::ReduceOp;
using dgc::test::comm;
using dgc::test::error_of;
using testing::HasSubstr;

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::atoi(value) : fallback;
}

std::vector<std::int64_t> to_vector(const torch::Tensor& tensor) {
  const auto longs = tensor.to(torch::kLong).contiguous();
  return {longs.data_ptr<std::int64_t>(), longs.data_ptr<std::int64_t>() + longs.numel()};
}

// The layout that nodes of `s` ranks cut by world rank must have, on this rank of `c`.
void expect_emulated_layout(dgc::Communicator& c, int s) {
  const int n = c.size(), rank = c.rank();
  EXPECT_EQ(c.emulated_node_size(), s);
  EXPECT_EQ(c.node_count(), n / s);
  EXPECT_EQ(c.node_index(), rank / s);
  EXPECT_EQ(c.node_sizes(), std::vector<int>(n / s, s));
  EXPECT_TRUE(c.nodes_uniform());
  EXPECT_EQ(c.node().size(), s);
  EXPECT_EQ(c.node().rank(), rank % s);
  EXPECT_EQ(c.cross_node().size(), n / s);
  EXPECT_EQ(c.cross_node().rank(), rank / s);
  // Still the machine's: they split its cores, and all these ranks share one machine.
  EXPECT_EQ(c.local_size(), env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1));
  EXPECT_EQ(c.local_rank(), env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0));
}

// The binary's Communicator: the real node (this machine) unless ctest set an emulated size.
TEST(Topology, TheBinarysNodesFollowTheMachineOrTheEnvironment) {
  const int n = comm().size(), rank = comm().rank();
  const int emulated = env_int("DGC_EMULATED_NODE_SIZE", 0);
  if (emulated > 0) {
    expect_emulated_layout(comm(), emulated);
    return;
  }
  const int hosts = env_int("DGC_CLUSTER_NODES", 0);
  if (hosts > 0) {
    // Under bench/cluster/cluster.sh every emulated host (a network namespace with a hostname of
    // its own) is a node, as a real machine would be, with the ranks mpirun placed on it.
    EXPECT_EQ(comm().emulated_node_size(), 0);
    EXPECT_EQ(comm().node_count(), hosts);
    EXPECT_TRUE(comm().nodes_uniform());
    EXPECT_EQ(comm().node().size(), n / hosts);
    EXPECT_EQ(comm().node().size(), comm().local_size());
    EXPECT_EQ(comm().node().rank(), comm().local_rank());
    EXPECT_EQ(comm().cross_node().size(), hosts);
    std::int64_t one = 1;
    comm().cross_node().allreduce(&one, 1, torch::kLong, ReduceOp::kSum);
    EXPECT_EQ(one, hosts);
    return;
  }
  // One machine: one node of every rank; each rank alone in its cross-node group, the leader
  // (rank 0) with itself and rank r with itself.
  EXPECT_EQ(comm().emulated_node_size(), 0);
  EXPECT_EQ(comm().node_count(), 1);
  EXPECT_EQ(comm().node_index(), 0);
  EXPECT_EQ(comm().node_sizes(), std::vector<int>{n});
  EXPECT_TRUE(comm().nodes_uniform());
  EXPECT_EQ(comm().node().size(), n);
  EXPECT_EQ(comm().node().rank(), rank);
  EXPECT_EQ(comm().node().size(), comm().local_size());
  EXPECT_EQ(comm().node().rank(), comm().local_rank());
  EXPECT_EQ(comm().cross_node().size(), 1);
  EXPECT_EQ(comm().cross_node().rank(), 0);
  // A collective on each: the node is the world, the cross-node group this rank alone.
  std::int64_t one = 1;
  comm().node().allreduce(&one, 1, torch::kLong, ReduceOp::kSum);
  EXPECT_EQ(one, n);
  one = 1;
  comm().cross_node().allreduce(&one, 1, torch::kLong, ReduceOp::kSum);
  EXPECT_EQ(one, 1);
}

// 2 nodes of 2 ranks at np 4 (ranks 0, 1 and 2, 3), one node at np 2; a world of one cannot be
// cut in twos.
TEST(Topology, EmulatedNodesOfTwo) {
  const int n = comm().size(), rank = comm().rank();
  if (n % 2 != 0) {
    EXPECT_EQ(error_of([] { dgc::Communicator c(CommunicatorOptions{2}); }),
              "CommunicatorOptions::emulated_node_size = 2 does not divide the " +
                  std::to_string(n) + " ranks of the world into nodes of equal size");
    return;
  }
  dgc::Communicator c(CommunicatorOptions{/*emulated_node_size=*/2});
  expect_emulated_layout(c, 2);
  const int node = rank / 2, first = 2 * node;

  // The node's ranks only: (first + 1) + (first + 2).
  auto sum = torch::full({3}, static_cast<float>(rank + 1));
  c.node().allreduce(sum, ReduceOp::kSum);
  EXPECT_TRUE(torch::equal(sum, torch::full({3}, static_cast<float>(2 * first + 3))))
      << "rank " << rank << ": " << sum;
  // The average divides by the node's size, not the world's.
  auto average = torch::full({2}, static_cast<double>(rank), torch::kDouble);
  c.node().allreduce(average, ReduceOp::kAverage);
  EXPECT_TRUE(torch::equal(average, torch::full({2}, first + 0.5, torch::kDouble)));

  // Between the node leaders (world ranks 0, 2, ...), and between the second ranks (1, 3, ...).
  auto gathered = c.cross_node().allgather(torch::tensor({std::int64_t{rank}}));
  std::vector<std::int64_t> expected;
  for (int k = 0; k < n / 2; ++k) expected.push_back(2 * k + rank % 2);
  EXPECT_EQ(to_vector(gathered), expected);

  // Inside the node, from its second rank.
  auto value = torch::full({4}, static_cast<std::int64_t>(100 + rank), torch::kLong);
  c.node().broadcast(value, /*root=*/1);
  EXPECT_TRUE(
      torch::equal(value, torch::full({4}, static_cast<std::int64_t>(101 + first), torch::kLong)));

  // Different lengths inside the node: node rank j sends j + 1 values.
  auto mine =
      torch::full({std::int64_t{rank % 2 + 1}}, static_cast<std::int64_t>(rank), torch::kLong);
  EXPECT_EQ(to_vector(c.node().allgatherv(mine)),
            (std::vector<std::int64_t>{first, first + 1, first + 1}));

  // Raw buffers and the barrier, on both groups.
  std::int32_t leader_sum = rank;
  c.cross_node().allreduce(&leader_sum, 1, torch::kInt, ReduceOp::kSum);
  std::int32_t expected_sum = 0;
  for (int k = 0; k < n / 2; ++k) expected_sum += 2 * k + rank % 2;
  EXPECT_EQ(leader_sum, expected_sum);
  c.node().barrier();
  c.cross_node().barrier();

  // The world is still the world.
  std::int64_t one = 1;
  c.allreduce(&one, 1, torch::kLong, ReduceOp::kSum);
  EXPECT_EQ(one, n);
}

// The two-level exchange that the hierarchical hook builds on: a sum inside each node, the node
// sums gathered between the leaders, the result broadcast inside the node, equals the world's sum.
TEST(Topology, TwoLevelSumEqualsTheWorldsSum) {
  const int n = comm().size(), rank = comm().rank();
  if (n % 2 != 0) GTEST_SKIP() << "needs an even number of ranks";
  dgc::Communicator c(CommunicatorOptions{2});
  auto values = torch::arange(5, torch::kDouble) * (rank + 1);
  auto world = values.clone();
  c.allreduce(world, ReduceOp::kSum);
  auto node_sum = values.clone();
  c.node().allreduce(node_sum, ReduceOp::kSum);
  auto total = torch::zeros_like(node_sum);
  if (c.node().rank() == 0) {
    total = c.cross_node().allgather(node_sum).view({c.node_count(), 5}).sum(0);
  }
  c.node().broadcast(total, 0);
  EXPECT_TRUE(torch::equal(total, world)) << total << " vs " << world;
}

// The allgatherv through the node leaders returns the world allgatherv's sizes and bytes, on
// the binary's nodes and on emulated ones of 1, 2 and every rank, with some ranks sending nothing;
// only the leaders use the network, each sending its node's block once.
TEST(Topology, AllgathervThroughTheLeadersIsTheWorldsAllgatherv) {
  const int n = comm().size(), rank = comm().rank();
  const auto check = [&](dgc::Communicator& c) {
    const std::vector<std::uint8_t> mine(static_cast<std::size_t>(rank % 3) * 5,
                                         static_cast<std::uint8_t>(rank + 1));
    std::vector<std::int64_t> flat_bytes, leaders_bytes;
    std::vector<std::uint8_t> flat, leaders;
    c.allgatherv(mine.data(), static_cast<std::int64_t>(mine.size()), flat_bytes, flat);
    const dgc::CollectiveBytes moved = c.allgatherv_through_leaders(
        mine.data(), static_cast<std::int64_t>(mine.size()), leaders_bytes, leaders);
    EXPECT_EQ(leaders_bytes, flat_bytes);
    EXPECT_EQ(leaders, flat);
    std::int64_t node_total = 0;
    for (int r = 0; r < n; ++r) {
      if (c.node_of(r) == c.node_index()) node_total += flat_bytes[r];
    }
    const auto total = static_cast<std::int64_t>(flat.size());
    const std::int64_t blocks = 8 * n + total;  // every node's sizes and bytes
    const std::int64_t shared = c.node().size() > 1 ? 8 * c.node_count() + blocks : 0;
    EXPECT_EQ(moved.intra_node, node_total + shared);
    EXPECT_EQ(moved.sent + moved.received - moved.intra_node, c.node().rank() == 0 ? blocks : 0);
  };
  check(comm());
  for (const int s : {1, 2, n}) {
    if (n % s != 0) continue;
    dgc::Communicator c(CommunicatorOptions{s});
    check(c);
  }
}

// Nodes of one rank each: the cross-node group is the world; one node of every rank: the node
// is the world.
TEST(Topology, EmulatedNodesOfOneRankAndOfTheWholeWorld) {
  const int n = comm().size(), rank = comm().rank();
  {
    dgc::Communicator c(CommunicatorOptions{1});
    expect_emulated_layout(c, 1);
    EXPECT_EQ(c.cross_node().size(), n);
    EXPECT_EQ(c.cross_node().rank(), rank);
  }
  {
    dgc::Communicator c(CommunicatorOptions{n});
    expect_emulated_layout(c, n);
    EXPECT_EQ(c.node().size(), n);
    EXPECT_EQ(c.cross_node().size(), 1);
  }
}

TEST(Topology, RejectsBadEmulatedNodeSizes) {
  const int n = comm().size();
  EXPECT_EQ(error_of([] { dgc::Communicator c(CommunicatorOptions{-1}); }),
            "CommunicatorOptions::emulated_node_size must be >= 0 (0: the real nodes), got -1");
  // Never divides: larger than the world. At np 4, 3 does not either.
  const int bad = n == 4 ? 3 : n + 1;
  EXPECT_EQ(error_of([bad] { dgc::Communicator c(CommunicatorOptions{bad}); }),
            "CommunicatorOptions::emulated_node_size = " + std::to_string(bad) +
                " does not divide the " + std::to_string(n) +
                " ranks of the world into nodes of equal size");
  // A refused Communicator leaves the process's MPI and the binary's Communicator working.
  std::int64_t one = 1;
  comm().allreduce(&one, 1, torch::kLong, ReduceOp::kSum);
  EXPECT_EQ(one, n);
}

TEST(Topology, GroupErrorsNameTheGroup) {
  const int node_size = comm().node().size(), cross_size = comm().cross_node().size();
  char byte = 0;
  EXPECT_EQ(error_of([&] { comm().node().broadcast(&byte, 1, node_size); }),
            "node().broadcast: root " + std::to_string(node_size) + " is not a rank of " +
                std::to_string(node_size));
  EXPECT_EQ(error_of([&] { comm().cross_node().broadcast(&byte, 1, -1); }),
            "cross_node().broadcast: root -1 is not a rank of " + std::to_string(cross_size));
  auto integers = torch::ones({2}, torch::kLong);
  EXPECT_THAT(error_of([&] { comm().node().allreduce(integers, ReduceOp::kAverage); }),
              HasSubstr("node().allreduce: kAverage is not defined for the integer dtype"));
  EXPECT_THAT(error_of([&] {
                comm().cross_node().allgather(torch::ones({2, 2}).t());
              }),
              HasSubstr("cross_node().allgather: the tensor must be contiguous"));
}

// Node-level collectives are numbered apart from the world's; the world's monitor keeps watching.
TEST(Topology, GroupCollectivesLeaveTheStallCheckOn) {
  const int n = comm().size();
  if (n % 2 != 0) GTEST_SKIP() << "needs an even number of ranks";
  dgc::Communicator c(CommunicatorOptions{2});
  EXPECT_EQ(c.stall_check_active(), n > 1);
  for (int i = 0; i < 3; ++i) {
    c.node().barrier();
    if (c.node().rank() == 0) c.cross_node().barrier();  // the leaders only, as a hook would
    c.barrier();
  }
  EXPECT_EQ(c.stall_check_active(), n > 1);
}

}  // namespace
