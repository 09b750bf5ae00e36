// The optimizer's communication thread: jobs in submission order, failures rethrown once, its
// ATen kernels on that thread alone, beside the caller's intra-op threads, and its core.
#include <ATen/Parallel.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "comm_thread.h"
#include "cpu_affinity.h"
#include "dgc/error.h"
#include "error_of.h"

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

TEST(CommThread, RunsOnTheCoreItIsPinnedTo) {
  const std::vector<int> cores = test::allowed_cores();
  ASSERT_FALSE(cores.empty());
  const int core = cores.back();
  CommThread thread([](std::exception_ptr) {});
  thread.pin_to_cpu(core);
  std::vector<int> allowed;
  int ran_on = -1;
  char name[16] = {};
  thread.run([&] {
    allowed = test::allowed_cores();
    ran_on = sched_getcpu();
    pthread_getname_np(pthread_self(), name, sizeof name);
  });
  EXPECT_EQ(allowed, std::vector<int>{core});
  EXPECT_EQ(ran_on, core);
  EXPECT_EQ(std::string(name), "dgc-comm");
  // The caller's own cores are untouched.
  EXPECT_EQ(test::allowed_cores(), cores);
}

TEST(CommThread, ACoreThatDoesNotExistIsAnErrorNamingIt) {
  CommThread thread([](std::exception_ptr) {});
  const auto message = [&](int cpu) {
    return test::thrown_error_of([&] { thread.pin_to_cpu(cpu); });
  };
  EXPECT_THAT(message(-1), testing::HasSubstr("comm_thread_cpus: core -1 does not exist"));
  EXPECT_THAT(message(CPU_SETSIZE),
              testing::HasSubstr("core " + std::to_string(CPU_SETSIZE) + " does not exist"));
  // A core number within the set's range that this machine lacks.
  const long configured = sysconf(_SC_NPROCESSORS_CONF);
  ASSERT_GT(configured, 0);
  if (configured < CPU_SETSIZE) {
    EXPECT_THAT(message(static_cast<int>(configured)),
                testing::HasSubstr("cannot run the communication thread on core " +
                                   std::to_string(configured) + ": Invalid argument"));
  }
  // It still runs jobs, wherever the system puts it.
  int ran = 0;
  thread.run([&] { ran = 1; });
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace dgc::detail
