// The main of the MPI test binary: one Communicator for every test (MPI cannot be initialised
// again after MPI_Finalize), rank 0 prints gtest's report, and every rank exits non-zero if any
// rank failed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include "dgc/communicator.h"
#include "dgc/error.h"
#include "mpi_test.h"

namespace {
dgc::Communicator* g_comm = nullptr;

// Prints only failures, with the rank, so that under mpirun rank 0 alone prints gtest's report.
class FailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "rank %d: %s:%d: Failure\n%s\n", rank_,
                 result.file_name() ? result.file_name() : "?", result.line_number(),
                 result.message());
  }

 private:
  int rank_;
};

}  // namespace

dgc::Communicator& dgc::test::comm() { return *g_comm; }

int main(int argc, char** argv) {
  testing::InitGoogleMock(&argc, argv);
  try {
    // DGC_TEST_WAIT=sleep: the whole suite over sleeping waits (ctest mpi.suite.sleep.np4).
    const char* wait = std::getenv("DGC_TEST_WAIT");
    dgc::CommunicatorOptions options;
    if (wait != nullptr && std::string(wait) == "sleep") options.wait = dgc::WaitPolicy::kSleep;
    dgc::Communicator communicator(options);
    g_comm = &communicator;
    if (communicator.rank() != 0) {
      auto& listeners = testing::UnitTest::GetInstance()->listeners();
      delete listeners.Release(listeners.default_result_printer());
      listeners.Append(new FailurePrinter(communicator.rank()));
    }
    // Every rank exits non-zero if any rank failed, so rank 0's report is the job's verdict.
    std::int32_t failed_ranks = RUN_ALL_TESTS() == 0 ? 0 : 1;
    communicator.allreduce(&failed_ranks, 1, torch::kInt, dgc::ReduceOp::kSum);
    if (communicator.rank() == 0 && failed_ranks > 0) {
      std::fprintf(stderr, "%d of %d ranks failed\n", failed_ranks, communicator.size());
    }
    g_comm = nullptr;
    return failed_ranks == 0 ? 0 : 1;
  } catch (const dgc::Error& e) {
    std::fprintf(stderr, "dgc-mpi-tests: %s\n", e.what());
    return 1;
  }
}
