// dgc::Timeline: what one process does over a few training steps, as a Chrome trace (the JSON
// array format that chrome://tracing and Perfetto open), like Horovod's timeline: one lane per
// thread, one span per piece of work.
//
// The library records its own spans into the active timeline (set_timeline), when there is one:
// on the communication thread each bucket's run() ("bucket"), inside it the DGC hooks'
// compression ("compress") and every MPI collective (named after the MPI call); on the caller's
// thread synchronize()'s wait for the communication thread ("wait"), each bucket's finish()
// ("finish", inside it the DGC hooks' "decode") and the inner optimizer's step ("optimizer"). A
// training loop adds its own (dgc-train: "step", "forward", "backward") with TimelineSpan.
// Without an active timeline a span costs one atomic load.
//
// Writing: events are buffered and written when the buffer fills, at flush() and at close(). A
// file cut short (the process died) lacks the closing bracket, which both viewers accept. A
// write that fails (a full disk) is a dgc::Error naming the file, from record() or flush(); the
// timeline then records nothing more.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "dgc/export.h"

namespace dgc {

class DGC_EXPORT Timeline {
 public:
  using Clock = std::chrono::steady_clock;

  // Creates (or truncates) `path`; `process_name` labels the process's lanes ("rank 0") and
  // `process_id` tells processes apart when traces are merged. The constructing thread's lane
  // is "main"; the library's communication thread names its own. Throws dgc::Error naming the
  // file when it cannot be created.
  Timeline(const std::string& path, const std::string& process_name, int process_id = 0);
  // close(), with a failure ignored (call close() to see it).
  ~Timeline();
  Timeline(const Timeline&) = delete;
  Timeline& operator=(const Timeline&) = delete;

  // One complete span on the calling thread. `name` and `category` are copied; `arg_name`, when
  // not null, adds {"arg_name": arg} to the event (a bucket's or a step's index). Thread-safe.
  void record(const char* name, const char* category, Clock::time_point begin,
              Clock::time_point end, const char* arg_name = nullptr, std::int64_t arg = 0);
  // Writes the buffered events to the file. Throws dgc::Error if the write fails.
  void flush();
  // Writes what is buffered and the closing bracket, and closes the file; later records are
  // dropped. Throws dgc::Error if the write fails.
  void close();

  const std::string& path() const;
  // Spans recorded so far.
  std::int64_t spans() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The timeline the library's spans go to; none (nullptr) by default. Process-wide, like Horovod's
// HOROVOD_TIMELINE. Set and clear it between steps, and keep the Timeline alive while it is set.
DGC_EXPORT void set_timeline(Timeline* timeline);
DGC_EXPORT Timeline* active_timeline();

// Names the calling thread's lane in every timeline it records into ("communication"). `name`
// must outlive the thread (a string literal).
DGC_EXPORT void set_timeline_thread_name(const char* name);

// Records the span from its construction to its destruction into the timeline active at its
// construction, if any. `name` and `category` must outlive the span (string literals).
class DGC_EXPORT TimelineSpan {
 public:
  TimelineSpan(const char* name, const char* category, const char* arg_name = nullptr,
               std::int64_t arg = 0);
  ~TimelineSpan();
  TimelineSpan(const TimelineSpan&) = delete;
  TimelineSpan& operator=(const TimelineSpan&) = delete;

 private:
  Timeline* timeline_;
  const char* name_;
  const char* category_;
  const char* arg_name_;
  std::int64_t arg_;
  Timeline::Clock::time_point begin_;
};

}  // namespace dgc
