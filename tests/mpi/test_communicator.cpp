// dgc::Communicator under a real launcher: run alone (a world of one), and under mpirun -np 2 and
// -np 4. Every rank runs every test; each test calls the same collectives in the same order on
// every rank and asserts with EXPECT (not ASSERT) after them, so a failure on one rank cannot
// leave the others waiting in a collective.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/error.h"
#include "error_of.h"
#include "mpi_test.h"

namespace {

using dgc::ReduceOp;
using testing::HasSubstr;

using dgc::test::comm;

using dgc::test::error_of;

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value ? std::atoi(value) : fallback;
}

TEST(Communicator, WorldMatchesTheLauncher) {
  const int size = comm().size(), rank = comm().rank();
  // Set by ctest: catches mpirun starting N independent worlds of one.
  if (std::getenv("DGC_EXPECTED_WORLD_SIZE")) {
    EXPECT_EQ(size, env_int("DGC_EXPECTED_WORLD_SIZE", -1));
  }
  EXPECT_EQ(size, env_int("OMPI_COMM_WORLD_SIZE", 1));
  EXPECT_EQ(rank, env_int("OMPI_COMM_WORLD_RANK", 0));
  EXPECT_GE(rank, 0);
  EXPECT_LT(rank, size);
}

TEST(Communicator, AllRanksShareThisHost) {
  EXPECT_EQ(comm().local_size(), comm().size());
  EXPECT_EQ(comm().local_rank(), comm().rank());
  EXPECT_EQ(comm().local_rank(), env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0));
  EXPECT_EQ(comm().local_size(), env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1));
}

// Rank r contributes base * (r + 1), so with n ranks the sum is base * n(n+1)/2 and the average
// base * (n+1)/2; the values are chosen so that both are exact in every dtype tested.
void expect_allreduce(torch::ScalarType dtype, const std::vector<double>& base, ReduceOp op) {
  const int n = comm().size();
  auto tensor = (torch::tensor(base, torch::kDouble) * (comm().rank() + 1)).to(dtype);
  comm().allreduce(tensor, op);
  const double factor = op == ReduceOp::kSum ? n * (n + 1) / 2.0 : (n + 1) / 2.0;
  const auto expected = torch::tensor(base, torch::kDouble) * factor;
  EXPECT_EQ(tensor.scalar_type(), dtype);
  EXPECT_TRUE(torch::equal(tensor.to(torch::kDouble), expected))
      << "dtype " << dtype << (op == ReduceOp::kSum ? " sum" : " average") << ": got "
      << tensor.to(torch::kDouble) << " expected " << expected;
}

TEST(Communicator, AllreduceSumsEveryDtype) {
  const std::vector<double> floating = {1, -2, 0.5, 0, 1024};
  expect_allreduce(torch::kFloat, floating, ReduceOp::kSum);
  expect_allreduce(torch::kDouble, floating, ReduceOp::kSum);
  expect_allreduce(torch::kHalf, floating, ReduceOp::kSum);
  expect_allreduce(torch::kBFloat16, floating, ReduceOp::kSum);
  expect_allreduce(torch::kInt, {1, -2, 3, 0, 1 << 20}, ReduceOp::kSum);
  // 2^40 * 10 needs all 64 bits' worth of range.
  expect_allreduce(torch::kLong, {1, -2, 3, 0, 1099511627776.0}, ReduceOp::kSum);
}

TEST(Communicator, AllreduceAveragesFloatingDtypes) {
  const std::vector<double> floating = {1, -2, 0.5, 0, 1024};
  expect_allreduce(torch::kFloat, floating, ReduceOp::kAverage);
  expect_allreduce(torch::kDouble, floating, ReduceOp::kAverage);
  expect_allreduce(torch::kHalf, floating, ReduceOp::kAverage);
  expect_allreduce(torch::kBFloat16, floating, ReduceOp::kAverage);
}

// Large enough for MPI to split the reduction into segments, which the half operator must handle.
TEST(Communicator, AllreduceSumsALargeHalfBuffer) {
  const int n = comm().size(), rank = comm().rank();
  const std::int64_t count = 1 << 18;
  auto index = torch::arange(count, torch::kLong);
  auto tensor = (index.remainder(7) + rank).to(torch::kHalf);
  comm().allreduce(tensor, ReduceOp::kSum);
  const auto expected = index.remainder(7) * n + n * (n - 1) / 2;
  EXPECT_TRUE(torch::equal(tensor.to(torch::kLong), expected));
}

// Sums that must round: each partial sum is rounded to the nearest half (or bfloat16), ties to
// even, however the operator computes it (halves 8 at a time with F16C where the CPU has it, the
// rest one by one).
TEST(Communicator, AllreduceRoundsHalfSumsToNearest) {
  if (comm().size() > 2) GTEST_SKIP() << "with more ranks MPI may combine them in any order";
  const std::int64_t count = 1003;  // not a multiple of 8
  for (const auto dtype : {torch::kHalf, torch::kBFloat16}) {
    const auto mine = [&](int rank) {
      torch::manual_seed(50 + rank);
      return (torch::randn({count}) * 100).to(dtype);
    };
    auto tensor = mine(comm().rank());
    comm().allreduce(tensor, ReduceOp::kSum);
    auto expected = mine(0);
    if (comm().size() == 2)
      expected = (mine(0).to(torch::kFloat) + mine(1).to(torch::kFloat)).to(dtype);
    EXPECT_TRUE(torch::equal(tensor, expected)) << dtype;
  }
}

TEST(Communicator, AllreduceRawBuffer) {
  const int n = comm().size(), rank = comm().rank();
  std::vector<double> values = {static_cast<double>(rank), 1.0, -0.25};
  comm().allreduce(values.data(), 3, torch::kDouble, ReduceOp::kSum);
  EXPECT_EQ(values, (std::vector<double>{n * (n - 1) / 2.0, 1.0 * n, -0.25 * n}));

  std::vector<std::int64_t> counts = {rank, 1};
  comm().allreduce(counts.data(), 2, torch::kLong, ReduceOp::kSum);
  EXPECT_EQ(counts, (std::vector<std::int64_t>{n * (n - 1) / 2, n}));

  comm().allreduce(nullptr, 0, torch::kFloat, ReduceOp::kAverage);  // nothing to do, no error
}

TEST(Communicator, AllreduceRejectsIntegerAverage) {
  for (auto dtype : {torch::kInt, torch::kLong}) {
    auto tensor = torch::ones({3}, dtype);
    const auto message = error_of([&] { comm().allreduce(tensor, ReduceOp::kAverage); });
    EXPECT_THAT(message, HasSubstr("kAverage is not defined for the integer dtype"));
    EXPECT_THAT(message, HasSubstr(c10::toString(dtype)));
    EXPECT_TRUE(torch::equal(tensor, torch::ones({3}, dtype)));
  }
}

TEST(Communicator, AllreduceRejectsUnsupportedDtypes) {
  // (bfloat16 is supported since the bf16 comm hook.)
  for (auto dtype :
       {torch::kByte, torch::kChar, torch::kShort, torch::kBool, torch::kComplexFloat}) {
    auto tensor = torch::zeros({3}, dtype);
    EXPECT_THAT(error_of([&] { comm().allreduce(tensor, ReduceOp::kSum); }),
                HasSubstr(std::string("dtype ") + c10::toString(dtype) + " is not supported"));
  }
}

TEST(Communicator, RejectsTensorsItCannotSendAsOneBuffer) {
  auto transposed = torch::arange(12, torch::kFloat).reshape({3, 4}).t();
  EXPECT_THAT(error_of([&] { comm().allreduce(transposed, ReduceOp::kSum); }),
              HasSubstr("allreduce: the tensor must be contiguous, got sizes [4, 3]"));
  EXPECT_THAT(error_of([&] { comm().allgather(transposed); }), HasSubstr("contiguous"));
  EXPECT_THAT(error_of([&] { comm().allgatherv(transposed); }), HasSubstr("contiguous"));
  EXPECT_THAT(error_of([&] { comm().broadcast(transposed, 0); }), HasSubstr("contiguous"));

  torch::Tensor undefined;
  EXPECT_THAT(error_of([&] { comm().allreduce(undefined, ReduceOp::kSum); }),
              HasSubstr("allreduce: the tensor is undefined"));

  // No GPU in this build: the meta device stands in for any device that is not the CPU.
  auto elsewhere = torch::empty({3}, torch::TensorOptions().device(torch::kMeta));
  EXPECT_THAT(error_of([&] { comm().broadcast(elsewhere, 0); }),
              HasSubstr("broadcast: the tensor must be on the CPU, got device meta"));

  auto sparse = torch::eye(3).to_sparse();
  EXPECT_THAT(error_of([&] { comm().allgather(sparse); }),
              HasSubstr("allgather: the tensor must be dense (strided), got layout Sparse"));
}

// Checked before any MPI call (the buffers are never touched, so none is allocated).
TEST(Communicator, RejectsSizesAboveMpiIntCounts) {
  const std::int64_t too_many = std::int64_t{INT_MAX} + 1;
  char byte = 0;
  EXPECT_THAT(error_of([&] { comm().allreduce(&byte, too_many, torch::kFloat, ReduceOp::kSum); }),
              HasSubstr("the element count of 2147483648 exceeds MPI's count limit of 2147483647"));
  EXPECT_THAT(error_of([&] { comm().allgather(&byte, too_many, &byte); }),
              HasSubstr("allgather: the byte size per rank of 2147483648 exceeds"));
  EXPECT_THAT(error_of([&] { comm().broadcast(&byte, std::int64_t{1} << 40, 0); }),
              HasSubstr("broadcast: the byte size of 1099511627776 exceeds"));
  EXPECT_THAT(error_of([&] { comm().allreduce(&byte, -1, torch::kFloat, ReduceOp::kSum); }),
              HasSubstr("the element count must not be negative, got -1"));
  EXPECT_THAT(error_of([&] { comm().allreduce(nullptr, 4, torch::kFloat, ReduceOp::kSum); }),
              HasSubstr("null buffer"));
}

// allgatherv exchanges sizes first, so one rank's bad size is rejected on every rank alike.
TEST(Communicator, AllgathervRejectsOneRanksOversizeEverywhere) {
  const int n = comm().size();
  const std::int64_t bytes = comm().rank() == n - 1 ? 3'000'000'000 : 4;
  char buffer[4] = {};
  std::vector<std::int64_t> sizes;
  std::vector<std::uint8_t> recv;
  EXPECT_THAT(error_of([&] { comm().allgatherv(buffer, bytes, sizes, recv); }),
              HasSubstr("allgatherv: rank " + std::to_string(n - 1) + " sends 3000000000 bytes"));
}

TEST(Communicator, AllgathervRejectsATotalAboveMpiIntDisplacements) {
  const int n = comm().size();
  if (n == 1) GTEST_SKIP() << "one rank's size alone is checked by the test above";
  char byte = 0;
  std::vector<std::int64_t> sizes;
  std::vector<std::uint8_t> recv;
  EXPECT_THAT(error_of([&] { comm().allgatherv(&byte, INT_MAX / n + 1, sizes, recv); }),
              HasSubstr("bytes in all, above MPI's displacement limit of 2147483647"));
}

TEST(Communicator, AllgathervRejectsDtypesThatDifferBetweenRanks) {
  if (comm().size() == 1) GTEST_SKIP() << "needs two ranks";
  auto tensor = torch::ones({2}, comm().rank() == 0 ? torch::kFloat : torch::kDouble);
  const auto message = error_of([&] { comm().allgatherv(tensor); });
  EXPECT_THAT(message, HasSubstr("allgatherv: dtypes differ between ranks (rank 0: Float, rank 1: "
                                 "Double)"));
}

TEST(Communicator, BroadcastRejectsARootOutsideTheWorld) {
  const int n = comm().size();
  char byte = 0;
  EXPECT_THAT(
      error_of([&] { comm().broadcast(&byte, 1, n); }),
      HasSubstr("broadcast: root " + std::to_string(n) + " is not a rank of " + std::to_string(n)));
  EXPECT_THAT(error_of([&] { comm().broadcast(&byte, 1, -1); }), HasSubstr("root -1"));
}

TEST(Communicator, AllgatherConcatenatesInRankOrder) {
  const int n = comm().size(), rank = comm().rank();
  // A 2-D tensor: the result is flat.
  auto mine = torch::tensor({10.0f * rank, 10.0f * rank + 1, 10.0f * rank + 2}).reshape({1, 3});
  auto all = comm().allgather(mine);
  ASSERT_EQ(all.sizes(), torch::IntArrayRef({3 * n}));
  EXPECT_EQ(all.scalar_type(), torch::kFloat);
  for (int r = 0; r < n; ++r) {
    for (int j = 0; j < 3; ++j) EXPECT_EQ(all[3 * r + j].item<float>(), 10.0f * r + j);
  }

  auto nothing = comm().allgather(torch::empty({0}, torch::kLong));
  EXPECT_EQ(nothing.numel(), 0);
  EXPECT_EQ(nothing.scalar_type(), torch::kLong);
}

TEST(Communicator, AllgatherRawBytes) {
  const int n = comm().size(), rank = comm().rank();
  const std::int32_t mine[2] = {rank, rank * rank};
  std::vector<std::int32_t> all(2 * n, -1);
  comm().allgather(mine, sizeof mine, all.data());
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(all[2 * r], r);
    EXPECT_EQ(all[2 * r + 1], r * r);
  }
}

TEST(Communicator, AllgathervConcatenatesDifferentLengths) {
  const int n = comm().size(), rank = comm().rank();
  // Rank r sends r % 3 elements, so rank 0 sends none.
  auto mine = torch::arange(rank % 3, torch::kLong) + 100 * rank;
  auto all = comm().allgatherv(mine);
  std::vector<std::int64_t> expected;
  for (int r = 0; r < n; ++r) {
    for (int j = 0; j < r % 3; ++j) expected.push_back(100 * r + j);
  }
  EXPECT_EQ(all.scalar_type(), torch::kLong);
  ASSERT_EQ(all.dim(), 1);
  EXPECT_EQ(std::vector<std::int64_t>(all.data_ptr<std::int64_t>(),
                                      all.data_ptr<std::int64_t>() + all.numel()),
            expected);
}

TEST(Communicator, AllgathervRawBytesReportsEachRanksSize) {
  const int n = comm().size(), rank = comm().rank();
  const std::vector<std::uint8_t> mine(rank + 1, static_cast<std::uint8_t>(rank));
  // Stale contents and sizes, as a reused buffer would have.
  std::vector<std::int64_t> sizes(7, -1);
  std::vector<std::uint8_t> recv(1000, 0xff);
  comm().allgatherv(mine.data(), static_cast<std::int64_t>(mine.size()), sizes, recv);
  std::vector<std::int64_t> expected_sizes;
  std::vector<std::uint8_t> expected;
  for (int r = 0; r < n; ++r) {
    expected_sizes.push_back(r + 1);
    expected.insert(expected.end(), r + 1, static_cast<std::uint8_t>(r));
  }
  EXPECT_EQ(sizes, expected_sizes);
  EXPECT_EQ(recv, expected);
}

TEST(Communicator, BroadcastFromTheLastRank) {
  const int n = comm().size(), rank = comm().rank(), root = n - 1;
  auto tensor = torch::full({2, 3}, static_cast<double>(rank + 1), torch::kDouble);
  comm().broadcast(tensor, root);
  EXPECT_TRUE(torch::equal(tensor, torch::full({2, 3}, static_cast<double>(n), torch::kDouble)));

  char text[32] = {};
  std::snprintf(text, sizeof text, "hello from rank %d", rank);
  comm().broadcast(text, sizeof text, root);
  EXPECT_STREQ(text, ("hello from rank " + std::to_string(root)).c_str());
}

TEST(Communicator, BarrierReturnsOnEveryRank) {
  for (int i = 0; i < 3; ++i) comm().barrier();
}

// WaitPolicy::kSleep goes through the nonblocking twins of the collectives: the same results as
// the blocking calls, for sums that are exact in any order, and back again.
TEST(Communicator, SleepingWaitsGiveTheBlockingResults) {
  const int n = comm().size(), rank = comm().rank();
  const dgc::WaitPolicy before = comm().wait_policy();
  const auto run = [&] {
    auto floats = torch::arange(1000, torch::kFloat) + rank;
    comm().allreduce(floats, ReduceOp::kSum);
    auto halves = (torch::arange(300, torch::kLong).remainder(5) + rank).to(torch::kHalf);
    comm().allreduce(halves, ReduceOp::kSum);
    auto gathered = comm().allgatherv(torch::arange(rank % 3, torch::kLong) + 10 * rank);
    std::vector<std::int64_t> send_bytes(n, 1), recv_bytes;
    std::vector<std::uint8_t> send(n, static_cast<std::uint8_t>(rank)), recv;
    comm().alltoallv(send.data(), send_bytes, recv_bytes, recv);
    auto root = torch::full({3}, static_cast<double>(rank), torch::kDouble);
    comm().broadcast(root, n - 1);
    comm().barrier();
    return std::vector<torch::Tensor>{
        floats, halves.to(torch::kFloat), gathered,
        torch::tensor(std::vector<std::int64_t>(recv.begin(), recv.end())), root};
  };
  comm().set_wait_policy(dgc::WaitPolicy::kBlock);
  const auto blocking = run();
  comm().set_wait_policy(dgc::WaitPolicy::kSleep);
  EXPECT_EQ(comm().wait_policy(), dgc::WaitPolicy::kSleep);
  const auto sleeping = run();
  comm().set_wait_policy(before);
  for (std::size_t i = 0; i < blocking.size(); ++i) {
    EXPECT_TRUE(torch::equal(blocking[i], sleeping[i])) << "result " << i;
  }
  // Not a vacuous comparison: the alltoallv handed each rank every rank's byte.
  EXPECT_EQ(sleeping[3].numel(), n);
  EXPECT_EQ(sleeping[3][n - 1].item<std::int64_t>(), n - 1);
}

// mpi.suite.sleep.np4 runs this whole binary with sleeping waits: DGC_TEST_WAIT reached every rank.
TEST(Communicator, TheSuiteWaitsAsItsEnvironmentAsks) {
  const char* wait = std::getenv("DGC_TEST_WAIT");
  const bool sleep = wait != nullptr && std::string(wait) == "sleep";
  EXPECT_EQ(comm().wait_policy(), sleep ? dgc::WaitPolicy::kSleep : dgc::WaitPolicy::kBlock);
}

// The distributed optimizer calls every collective from its communication thread.
TEST(Communicator, CollectivesFromAnotherThread) {
  const int n = comm().size();
  auto tensor = torch::ones({4}, torch::kFloat);
  std::thread worker([&] {
    comm().allreduce(tensor, ReduceOp::kSum);
    comm().barrier();
  });
  worker.join();
  EXPECT_TRUE(torch::equal(tensor, torch::full({4}, static_cast<float>(n))));
}

// On by default, like Horovod's, wherever it can run (more than one rank and
// MPI_THREAD_MULTIPLE): every other test of this binary runs with the monitor watching. Its
// scenarios run in dgc-mpi-probe (stall_probe.sh).
TEST(Communicator, StallCheckIsOnByDefaultWhereItCanRun) {
  if (!std::getenv("DGC_STALL_CHECK_TIME_SECONDS") &&
      !std::getenv("DGC_STALL_SHUTDOWN_TIME_SECONDS")) {
    EXPECT_EQ(comm().stall_check().warning_seconds, 60);
    EXPECT_EQ(comm().stall_check().timeout_seconds, 0);
  }
  const dgc::StallCheckOptions before = comm().stall_check();
  EXPECT_EQ(comm().stall_check_active(), comm().size() > 1);
  comm().set_stall_check({/*warning_seconds=*/0, /*timeout_seconds=*/0});
  EXPECT_FALSE(comm().stall_check_active());
  const auto negative = [] { comm().set_stall_check({-1, 0}); };
  EXPECT_THAT(error_of(negative),
              HasSubstr("warning_seconds must be a finite number >= 0, got -1"));
  EXPECT_EQ(comm().stall_check().warning_seconds, 0);  // a refused call changes nothing
  comm().set_stall_check({/*warning_seconds=*/30, /*timeout_seconds=*/90});
  EXPECT_EQ(comm().stall_check_active(), comm().size() > 1);
  comm().barrier();
  comm().set_stall_check(before);
}

// The second sees MPI initialised by the first and must leave it running when destroyed.
TEST(Communicator, ASecondCommunicatorSharesTheProcess) {
  const int n = comm().size();
  {
    dgc::Communicator second;
    EXPECT_EQ(second.rank(), comm().rank());
    EXPECT_EQ(second.size(), n);
    EXPECT_EQ(second.local_size(), comm().local_size());
    std::int64_t one = 1;
    second.allreduce(&one, 1, torch::kLong, ReduceOp::kSum);
    EXPECT_EQ(one, n);
    EXPECT_EQ(second.stall_check_active(), n > 1);  // its own monitor, stopped by its destructor
  }
  std::int64_t one = 1;
  comm().allreduce(&one, 1, torch::kLong, ReduceOp::kSum);
  EXPECT_EQ(one, n);
}

}  // namespace
