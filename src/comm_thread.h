// The one thread that makes every MPI call of a DistributedOptimizer.
//
// Work runs in submission order, which the optimizer keeps identical on every rank, so the
// collectives match up without any negotiation. Internal.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace dgc::detail {

class CommThread {
 public:
  // `on_error` runs on this thread when a job throws (it receives the exception); if it
  // returns, the exception is kept and rethrown by the next wait().
  explicit CommThread(std::function<void(std::exception_ptr)> on_error);
  // Finishes the queued jobs, then stops.
  ~CommThread();
  CommThread(const CommThread&) = delete;
  CommThread& operator=(const CommThread&) = delete;

  void submit(std::function<void()> job);
  // Blocks until every submitted job has run; rethrows the first failure (once).
  void wait();
  // submit + wait.
  void run(std::function<void()> job);
  // Lets the thread run on core `cpu` only; a core that does not exist or that this process may
  // not use is a dgc::Error naming it. Call it before the first job.
  void pin_to_cpu(int cpu);

 private:
  void loop();

  std::function<void(std::exception_ptr)> on_error_;
  std::mutex mutex_;
  std::condition_variable work_;  // a job arrived or stopping
  std::condition_variable idle_;  // a job finished
  std::deque<std::function<void()>> queue_;
  std::int64_t submitted_ = 0, finished_ = 0;
  std::exception_ptr failure_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace dgc::detail
