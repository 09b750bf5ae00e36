#include "stall_monitor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <tuple>
#include <utility>

#include "dgc/error.h"

namespace dgc {

void validate(const StallCheckOptions& options) {
  DGC_CHECK(std::isfinite(options.warning_seconds) && options.warning_seconds >= 0,
            "StallCheckOptions::warning_seconds must be a finite number >= 0, got ",
            options.warning_seconds);
  DGC_CHECK(std::isfinite(options.timeout_seconds) && options.timeout_seconds >= 0,
            "StallCheckOptions::timeout_seconds must be a finite number >= 0, got ",
            options.timeout_seconds);
  DGC_CHECK(options.timeout_seconds == 0 ||
                (options.warning_seconds > 0 && options.timeout_seconds >= options.warning_seconds),
            "StallCheckOptions::timeout_seconds (", options.timeout_seconds,
            ") must be 0 or >= warning_seconds (", options.warning_seconds,
            "), and the check must be on (warning_seconds > 0)");
}

namespace detail {

namespace {

constexpr int kTag = 0;
// A waiting rank that is not the lowest one waiting ends the job this much after the timeout,
// in case the lowest one's abort did not (it normally has by then).
constexpr double kAbortGraceSeconds = 5;

double seconds(StallClock::duration d) { return std::chrono::duration<double>(d).count(); }

StallClock::duration to_duration(double s) {
  return std::chrono::duration_cast<StallClock::duration>(std::chrono::duration<double>(s));
}

// "rank 3", "ranks 0, 2", "ranks 0-5, 7": sorted, runs of three or more collapsed.
std::string describe_ranks(std::vector<int> ranks) {
  std::sort(ranks.begin(), ranks.end());
  std::ostringstream out;
  out << (ranks.size() == 1 ? "rank " : "ranks ");
  for (std::size_t i = 0; i < ranks.size();) {
    std::size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1) ++j;
    if (i > 0) out << ", ";
    if (j >= i + 2) {
      out << ranks[i] << "-" << ranks[j];
    } else {
      out << ranks[i];
      if (j == i + 1) out << ", " << ranks[j];
    }
    i = j + 1;
  }
  return out.str();
}

// "MPI_Allreduce #2" on the world, as before there were groups; the group otherwise.
std::string describe_collective(CollectiveLevel level, int group, const std::string& call,
                                std::uint64_t seq) {
  std::ostringstream out;
  out << call << " #" << seq;
  if (level == CollectiveLevel::kNode) out << " in node " << group;
  if (level == CollectiveLevel::kCrossNode) out << " across nodes (node rank " << group << ")";
  return out.str();
}

}  // namespace

int StallTopology::group_of(int rank, CollectiveLevel level) const {
  switch (level) {
    case CollectiveLevel::kNode:
      return node_of[rank];
    case CollectiveLevel::kCrossNode:
      return node_rank_of[rank];
    case CollectiveLevel::kWorld:
      break;
  }
  return 0;
}

void CollectiveTracker::enter(CollectiveLevel level, const char* call) {
  const auto now = StallClock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  current_ = Snapshot{true, level, call, ++count_[static_cast<int>(level)], now};
}

void CollectiveTracker::leave() {
  std::lock_guard<std::mutex> lock(mutex_);
  current_.active = false;
}

CollectiveTracker::Snapshot CollectiveTracker::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return current_;
}

// One word to another rank's monitor, as raw bytes: every rank runs the same binary.
struct StallMonitor::Message {
  std::int32_t waiting;  // 1: waits in `call` #seq; 0: has left it
  std::int32_t level;    // a CollectiveLevel
  std::uint64_t seq;
  char call[32];  // the MPI function's name, NUL-terminated
};

struct StallMonitor::Send {
  MPI_Request request = MPI_REQUEST_NULL;
  Message message{};
};

StallMonitor::StallMonitor(MPI_Comm comm, const CollectiveTracker& tracker, StallTopology topology,
                           AbortFn abort)
    : comm_(comm), tracker_(tracker), topology_(std::move(topology)), abort_(std::move(abort)) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  peers_.resize(size_);
  sent_.assign(size_, 0);
  received_.assign(size_, 0);
  // MPI_Finalize deletes MPI_COMM_SELF's attributes first, while MPI still works (MPI-4.1 section
  // 11.2.4): the hook that stops the thread if the caller finalises before destroying us.
  if (MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, &StallMonitor::on_finalize, &keyval_,
                             nullptr) == MPI_SUCCESS) {
    if (MPI_Comm_set_attr(MPI_COMM_SELF, keyval_, this) != MPI_SUCCESS) {
      MPI_Comm_free_keyval(&keyval_);
    }
  }
}

StallMonitor::~StallMonitor() {
  // shutdown() or MPI_Finalize's hook has run, unless construction of the Communicator failed.
  if (!finished_) stop_thread();
}

void StallMonitor::set_options(const StallCheckOptions& options) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return;
  options_ = options;
  options_changed_ = true;
  if (!thread_.joinable() && options.warning_seconds > 0) thread_ = std::thread([this] { loop(); });
  wake_.notify_one();
}

bool StallMonitor::active() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return thread_.joinable() && !stopping_ && options_.warning_seconds > 0 && !failed_;
}

void StallMonitor::stop_thread() noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void StallMonitor::shutdown() noexcept {
  if (finished_) return;
  finished_ = true;
  stop_thread();
  // Each rank learns how many messages every peer sent it and receives them all, then completes
  // its own sends: nothing is left in flight on the communicator it frees.
  std::vector<std::int64_t> expected(size_, 0);
  if (MPI_Alltoall(sent_.data(), 1, MPI_INT64_T, expected.data(), 1, MPI_INT64_T, comm_) ==
      MPI_SUCCESS) {
    for (int r = 0; r < size_; ++r) {
      while (received_[r] < expected[r]) {
        Message message;
        if (MPI_Recv(&message, sizeof message, MPI_BYTE, r, kTag, comm_, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS) {
          break;
        }
        ++received_[r];
      }
    }
  }
  for (auto& send : sends_) MPI_Wait(&send.request, MPI_STATUS_IGNORE);
  sends_.clear();
  if (keyval_ != MPI_KEYVAL_INVALID) {
    MPI_Comm_delete_attr(MPI_COMM_SELF, keyval_);  // runs on_finalize, which sees finished_
    MPI_Comm_free_keyval(&keyval_);
  }
  MPI_Comm_free(&comm_);
}

int StallMonitor::on_finalize(MPI_Comm, int, void* attribute, void*) {
  auto* self = static_cast<StallMonitor*>(attribute);
  if (self->finished_) return MPI_SUCCESS;
  // The caller finalises MPI with the Communicator alive: stop, and leave what is in flight to
  // MPI_Finalize (a freed send request still completes).
  self->finished_ = true;
  self->stop_thread();
  for (auto& send : self->sends_) {
    if (send.request != MPI_REQUEST_NULL) MPI_Request_free(&send.request);
  }
  self->sends_.clear();
  return MPI_SUCCESS;
}

bool StallMonitor::ok(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return true;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) length = 0;
  std::fprintf(stderr, "dgc: rank %d: stall check: %s failed: %.*s; the check stops\n", rank_, call,
               length, text);
  std::fflush(stderr);
  std::lock_guard<std::mutex> lock(mutex_);
  failed_ = true;
  return false;
}

void StallMonitor::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    const double warning = options_.warning_seconds;
    const auto woken = [&] { return stopping_ || options_changed_; };
    if (warning > 0) {
      // About once a second: cheap (a probe of the mailbox), and precise enough for warnings
      // given in seconds; faster for the short times of tests.
      wake_.wait_for(lock, to_duration(std::clamp(warning / 4, 0.05, 1.0)), woken);
    } else {
      wake_.wait(lock, woken);
    }
    if (stopping_) return;
    options_changed_ = false;
    const StallCheckOptions options = options_;
    const bool failed = failed_;
    lock.unlock();
    if (!failed) tick(options);
    lock.lock();
  }
}

void StallMonitor::tick(const StallCheckOptions& options) {
  drain();
  reap_sends();
  const auto now = StallClock::now();
  const auto current = tracker_.snapshot();
  const bool on = options.warning_seconds > 0;
  if (announced_ && !(on && current.active && current.level == announced_level_ &&
                      current.seq == announced_seq_)) {
    send_to_all(false, announced_level_, announced_call_, announced_seq_);
    announced_ = false;
  }
  if (!on || !current.active) return;
  const double waited = seconds(now - current.start);
  if (!announced_) {
    // Half the warning time: the peers that wait too have announced it by the warning.
    if (waited < options.warning_seconds / 2) return;
    send_to_all(true, current.level, current.call, current.seq);
    announced_ = true;
    announced_level_ = current.level;
    announced_seq_ = current.seq;
    announced_call_ = current.call;
    next_warning_ = current.start + to_duration(options.warning_seconds);
  }
  // The lowest waiting rank speaks for all of them.
  bool lowest = true;
  for (int r = 0; r < rank_; ++r) lowest = lowest && !peers_[r].waiting;
  if (waited >= options.warning_seconds && now >= next_warning_) {
    next_warning_ = now + to_duration(options.warning_seconds);
    if (lowest) {
      std::fprintf(stderr, "dgc: stall: %s\n", describe(current, waited).c_str());
      std::fflush(stderr);
    }
  }
  if (options.timeout_seconds > 0 &&
      waited >= options.timeout_seconds + (lowest ? 0 : kAbortGraceSeconds)) {
    std::ostringstream message;
    message << "stall: " << describe(current, waited) << "; ending the job (stall timeout "
            << options.timeout_seconds << " s)";
    abort_(message.str());
  }
}

void StallMonitor::drain() {
  for (;;) {
    int flag = 0;
    MPI_Status status;
    if (!ok(MPI_Iprobe(MPI_ANY_SOURCE, kTag, comm_, &flag, &status), "MPI_Iprobe") || !flag) return;
    receive_from(status.MPI_SOURCE);
  }
}

void StallMonitor::receive_from(int source) {
  Message message{};
  MPI_Status status;
  if (!ok(MPI_Recv(&message, sizeof message, MPI_BYTE, source, kTag, comm_, &status), "MPI_Recv")) {
    return;
  }
  ++received_[source];
  int bytes = 0;
  MPI_Get_count(&status, MPI_BYTE, &bytes);
  if (bytes != static_cast<int>(sizeof message)) return;  // not from a monitor of this build
  if (message.level < 0 || message.level >= kCollectiveLevels) return;
  Peer& peer = peers_[source];
  peer.waiting = message.waiting != 0;
  peer.level = static_cast<CollectiveLevel>(message.level);
  peer.seq = message.seq;
  peer.call.assign(message.call, strnlen(message.call, sizeof message.call));
}

void StallMonitor::reap_sends() {
  for (auto it = sends_.begin(); it != sends_.end();) {
    int done = 0;
    if (!ok(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "MPI_Test")) return;
    it = done ? sends_.erase(it) : std::next(it);
  }
}

void StallMonitor::send_to_all(bool waiting, CollectiveLevel level, const char* call,
                               std::uint64_t seq) {
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    Send& send = sends_.emplace_back();
    send.message.waiting = waiting ? 1 : 0;
    send.message.level = static_cast<std::int32_t>(level);
    send.message.seq = seq;
    std::snprintf(send.message.call, sizeof send.message.call, "%s", call);
    // Never blocks: a stopped peer's share stays in flight until shutdown() or MPI_Finalize.
    if (!ok(MPI_Isend(&send.message, sizeof send.message, MPI_BYTE, r, kTag, comm_, &send.request),
            "MPI_Isend")) {
      sends_.pop_back();
      return;
    }
    ++sent_[r];
  }
}

std::string StallMonitor::describe(const CollectiveTracker::Snapshot& current,
                                   double waited) const {
  // Only the members of this collective's group can be missing from it: a rank of another node
  // that waits for nothing is not part of a stall inside this node.
  const int group = topology_.group_of(rank_, current.level);
  std::vector<int> same{rank_}, missing;
  std::map<std::tuple<int, int, std::uint64_t, std::string>, std::vector<int>> elsewhere;
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    const Peer& peer = peers_[r];
    const bool member = topology_.group_of(r, current.level) == group;
    if (!peer.waiting) {
      if (member) missing.push_back(r);
    } else if (member && peer.level == current.level && peer.seq == current.seq &&
               peer.call == current.call) {
      same.push_back(r);
    } else {
      elsewhere[{static_cast<int>(peer.level), topology_.group_of(r, peer.level), peer.seq,
                 peer.call}]
          .push_back(r);
    }
  }
  std::ostringstream out;
  out << describe_ranks(same) << (same.size() == 1 ? " has" : " have") << " waited "
      << static_cast<long long>(waited) << " s in "
      << describe_collective(current.level, group, current.call, current.seq);
  if (!missing.empty()) {
    out << "; " << describe_ranks(missing) << (missing.size() == 1 ? " has" : " have")
        << " not reached it";
  }
  for (const auto& [key, ranks] : elsewhere) {
    const auto& [level, peer_group, seq, call] = key;
    out << "; " << describe_ranks(ranks) << (ranks.size() == 1 ? " waits" : " wait") << " in "
        << describe_collective(static_cast<CollectiveLevel>(level), peer_group, call, seq)
        << " instead";
  }
  return out.str();
}

}  // namespace detail
}  // namespace dgc
