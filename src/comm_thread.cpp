#include "comm_thread.h"

#include <ATen/Parallel.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <cstring>
#include <utility>

#include "dgc/error.h"
#include "dgc/timeline.h"

namespace dgc::detail {

CommThread::CommThread(std::function<void(std::exception_ptr)> on_error)
    : on_error_(std::move(on_error)), thread_([this] { loop(); }) {
  // Named here rather than in loop(), so that it has its name once the constructor returns; for
  // top -H, ps -L and /proc/PID/task/TID/comm (at most 15 characters).
  pthread_setname_np(thread_.native_handle(), "dgc-comm");
}

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

void CommThread::pin_to_cpu(int cpu) {
  DGC_CHECK(cpu >= 0 && cpu < CPU_SETSIZE, "comm_thread_cpus: core ", cpu,
            " does not exist (cores are numbered from 0 to ", CPU_SETSIZE - 1, ")");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const int failed = pthread_setaffinity_np(thread_.native_handle(), sizeof set, &set);
  // EINVAL: the core is offline, absent, or outside the cores this process's cgroup allows.
  DGC_CHECK(failed == 0, "comm_thread_cpus: cannot run the communication thread on core ", cpu,
            ": ", std::strerror(failed));
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
