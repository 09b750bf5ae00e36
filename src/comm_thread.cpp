#include "comm_thread.h"

#include <ATen/Parallel.h>
#include <omp.h>

#include <utility>

#include "dgc/timeline.h"

namespace dgc::detail {

CommThread::CommThread(std::function<void(std::exception_ptr)> on_error)
    : on_error_(std::move(on_error)), thread_([this] { loop(); }) {}

CommThread::~CommThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_.notify_one();
  thread_.join();
}

void CommThread::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
    ++submitted_;
  }
  work_.notify_one();
}

void CommThread::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [&] { return finished_ == submitted_; });
  if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
}

void CommThread::run(std::function<void()> job) {
  submit(std::move(job));
  wait();
}

void CommThread::loop() {
  // The ATen kernels of this thread's jobs (compression, packing) run on it alone. With a team of
  // its own, libgomp would manage more threads than there are cores, and then it stops spinning
  // between parallel regions: every region of the training threads' team pays a futex wake-up
  // (dgc-train, ResNet-20, np 1, 2 threads: 54,000 context switches in 64 steps instead of
  // 1,500). Like Horovod's background thread, this one is a single extra thread. ATen sets a
  // thread's OpenMP thread count at its first parallel call: get_num_threads() makes that happen
  // now, so that this setting is not overwritten later.
  at::get_num_threads();
  set_timeline_thread_name("communication");
  omp_set_num_threads(1);
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    std::exception_ptr error;
    // After a failure the remaining jobs are dropped: they would run on a broken state, and
    // in a world of more than one on_error_ has ended the job already.
    bool skip;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      skip = failure_ != nullptr;
    }
    if (!skip) {
      try {
        job();
      } catch (...) {
        error = std::current_exception();
      }
      if (error) on_error_(error);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error && !failure_) failure_ = error;
      ++finished_;
    }
    idle_.notify_all();
  }
}

}  // namespace dgc::detail
