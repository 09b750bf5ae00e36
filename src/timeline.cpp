#include "dgc/timeline.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "dgc/error.h"

namespace dgc {

namespace {

std::atomic<Timeline*> g_active{nullptr};

// Lanes: every thread that records gets a small number of its own, the same in every timeline.
std::atomic<int> g_next_lane{0};
thread_local int t_lane = -1;
thread_local const char* t_thread_name = nullptr;

int this_lane() {
  if (t_lane < 0) t_lane = g_next_lane.fetch_add(1);
  return t_lane;
}

// Buffered events are written once they reach this size, so that a long trace does not grow the
// process's memory.
constexpr std::size_t kFlushBytes = 1 << 20;

void append_escaped(std::string& out, const char* text) {
  for (const char* c = text; *c != '\0'; ++c) {
    const auto byte = static_cast<unsigned char>(*c);
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += *c;
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += *c;
    }
  }
}

double microseconds(Timeline::Clock::time_point t) {
  return std::chrono::duration<double, std::micro>(t.time_since_epoch()).count();
}

}  // namespace

struct Timeline::Impl {
  std::string path;
  int pid = 0;
  int main_lane = 0;
  std::mutex mutex;
  std::FILE* file = nullptr;
  std::string buffer;
  std::set<int> named_lanes;
  std::int64_t spans = 0;
  bool first_event = true;
  std::string failure;  // the first write error, thrown by the next flush() or close()

  void event(const std::string& json) {
    buffer += first_event ? "\n" : ",\n";
    first_event = false;
    buffer += json;
  }

  // A metadata event naming the process (lane < 0) or one of its lanes.
  void metadata(const char* what, int lane, const std::string& name) {
    std::string json =
        std::string("{\"name\":\"") + what + "\",\"ph\":\"M\",\"pid\":" + std::to_string(pid);
    if (lane >= 0) json += ",\"tid\":" + std::to_string(lane);
    json += ",\"args\":{\"name\":\"";
    append_escaped(json, name.c_str());
    event(json + "\"}}");
  }

  void name_lane(int lane) {
    if (!named_lanes.insert(lane).second) return;
    metadata("thread_name", lane,
             t_thread_name != nullptr ? t_thread_name
             : lane == main_lane      ? "main"
                                      : "thread " + std::to_string(lane));
  }

  // With `mutex` held. Keeps the first failure for flush() and close(), drops the buffer after.
  void write_buffer() {
    if (file == nullptr || buffer.empty()) return;
    if (failure.empty()) {
      const bool ok = std::fwrite(buffer.data(), 1, buffer.size(), file) == buffer.size() &&
                      std::fflush(file) == 0;
      if (!ok) failure = "timeline: writing '" + path + "' failed: " + std::strerror(errno);
    }
    buffer.clear();
  }

  void throw_failure() {
    if (!failure.empty()) DGC_FAIL(failure, "; the timeline records nothing more");
  }
};

Timeline::Timeline(const std::string& path, const std::string& process_name, int process_id)
    : impl_(std::make_unique<Impl>()) {
  Impl& t = *impl_;
  t.path = path;
  t.pid = process_id;
  t.main_lane = this_lane();
  t.file = std::fopen(path.c_str(), "w");
  DGC_CHECK(t.file != nullptr, "timeline: cannot create '", path, "': ", std::strerror(errno));
  t.buffer = "[";
  t.metadata("process_name", -1, process_name);
}

Timeline::~Timeline() {
  try {
    close();
  } catch (const Error&) {
    // Documented: close() reports it; a destructor cannot.
  }
}

void Timeline::record(const char* name, const char* category, Clock::time_point begin,
                      Clock::time_point end, const char* arg_name, std::int64_t arg) {
  Impl& t = *impl_;
  const int lane = this_lane();
  char times[96];
  std::snprintf(times, sizeof times,
                "\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%d,\"tid\":%d",
                microseconds(begin), microseconds(end) - microseconds(begin), t.pid, lane);
  std::string json = "{\"name\":\"";
  append_escaped(json, name);
  json += "\",\"cat\":\"";
  append_escaped(json, category);
  json += times;
  if (arg_name != nullptr) {
    json += ",\"args\":{\"";
    append_escaped(json, arg_name);
    json += "\":" + std::to_string(arg) + "}";
  }
  json += "}";
  std::lock_guard<std::mutex> lock(t.mutex);
  if (t.file == nullptr) return;
  t.name_lane(lane);
  t.event(json);
  ++t.spans;
  if (t.buffer.size() >= kFlushBytes) t.write_buffer();
}

void Timeline::flush() {
  Impl& t = *impl_;
  std::lock_guard<std::mutex> lock(t.mutex);
  t.write_buffer();
  t.throw_failure();
}

void Timeline::close() {
  Impl& t = *impl_;
  std::lock_guard<std::mutex> lock(t.mutex);
  if (t.file == nullptr) return;
  t.buffer += "\n]\n";
  t.write_buffer();
  if (std::fclose(t.file) != 0 && t.failure.empty()) {
    t.failure = "timeline: closing '" + t.path + "' failed: " + std::strerror(errno);
  }
  t.file = nullptr;
  t.throw_failure();
}

const std::string& Timeline::path() const { return impl_->path; }

std::int64_t Timeline::spans() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->spans;
}

void set_timeline(Timeline* timeline) { g_active.store(timeline); }

Timeline* active_timeline() { return g_active.load(); }

void set_timeline_thread_name(const char* name) { t_thread_name = name; }

TimelineSpan::TimelineSpan(const char* name, const char* category, const char* arg_name,
                           std::int64_t arg)
    : timeline_(g_active.load(std::memory_order_acquire)),
      name_(name),
      category_(category),
      arg_name_(arg_name),
      arg_(arg) {
  if (timeline_ != nullptr) begin_ = Timeline::Clock::now();
}

TimelineSpan::~TimelineSpan() {
  if (timeline_ != nullptr) {
    timeline_->record(name_, category_, begin_, Timeline::Clock::now(), arg_name_, arg_);
  }
}

}  // namespace dgc
