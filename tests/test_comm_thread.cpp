// The optimizer's communication thread: jobs in submission order, failures rethrown once, and
// its ATen kernels on that thread alone, beside the caller's intra-op threads.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "comm_thread.h"

namespace dgc::detail {
namespace {

TEST(CommThread, RunsJobsInSubmissionOrderAndRethrowsAFailureOnce) {
  std::atomic<int> reported{0};
  CommThread thread([&](std::exception_ptr) { ++reported; });
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) thread.submit([&order, i] { order.push_back(i); });
  thread.wait();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));

  thread.submit([] { throw std::runtime_error("broken"); });
  thread.submit([&order] { order.push_back(99); });  // dropped: it would run on a broken state
  EXPECT_THROW(thread.wait(), std::runtime_error);
  EXPECT_EQ(reported.load(), 1);
  EXPECT_EQ(order.size(), 5u);
  EXPECT_NO_THROW(thread.wait());
}

TEST(CommThread, ItsKernelsUseOneThreadWhileTheCallerKeepsItsOwn) {
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  {
    CommThread thread([](std::exception_ptr) {});
    int threads_inside = 0;
    std::atomic<int> chunks{0};
    thread.run([&] {
      threads_inside = at::get_num_threads();
      // Large enough to be split if this thread had a team: it runs as one chunk instead.
      at::parallel_for(0, 1 << 20, 1, [&](std::int64_t, std::int64_t) { ++chunks; });
    });
    EXPECT_EQ(threads_inside, 1);
    EXPECT_EQ(chunks.load(), 1);
    EXPECT_EQ(at::get_num_threads(), 2);
    std::atomic<int> caller_chunks{0};
    at::parallel_for(0, 1 << 20, 1, [&](std::int64_t, std::int64_t) { ++caller_chunks; });
    EXPECT_EQ(caller_chunks.load(), 2);
  }
  at::set_num_threads(before);
}

}  // namespace
}  // namespace dgc::detail
