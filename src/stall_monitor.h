// The stall check of a Communicator (docs/DISTRIBUTED.md, "Stalls"): which collective the
// calling thread blocks in, and a thread that notices when it blocks too long. Internal; part of
// the communicator layer, the only code that calls MPI.
//
// Protocol, on a duplicate communicator of the monitor's own, point to point only:
//   - a rank whose collective has blocked for half the warning time (or half the timeout, if
//     shorter) sends "waiting in <call> #<seq> of <level>" to every other rank, once;
//   - when it leaves that collective it sends "left it" to the same ranks;
//   - each monitor keeps the latest word from every rank. The lowest waiting rank it knows of
//     prints the warning: the ranks waiting in the same collective, the members of its group
//     that sent nothing ("have not reached it") and those waiting in another collective (a
//     mismatch, or another group's collective).
// The node-local and cross-node groups' collectives are numbered per level, so that the numbers
// agree between the members of a group (a node leader makes cross-node calls the others do not);
// a level and a rank's node give the group, so no group needs a monitor of its own.
// Nothing is sent while no collective is stalled; the monitor then only probes its mailbox, once
// a second. Sends never block (MPI_Isend), so a stopped peer cannot stop the monitor.
#pragma once

#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dgc/stall_check.h"

namespace dgc::detail {

using StallClock = std::chrono::steady_clock;

// Which of a Communicator's groups a collective runs on; the value travels in the messages.
enum class CollectiveLevel : std::int32_t { kWorld = 0, kNode = 1, kCrossNode = 2 };
constexpr int kCollectiveLevels = 3;

// Where each world rank sits: node_of[r] is rank r's node index, node_rank_of[r] its rank in
// the node. The group of a node collective is its node; that of a cross-node one, the node rank.
struct StallTopology {
  std::vector<int> node_of, node_rank_of;
  int group_of(int rank, CollectiveLevel level) const;
};

// The collective in progress on the thread that uses the Communicator and its groups. Every
// collective is numbered in call order within its level, so the numbers agree between the ranks
// of a group.
class CollectiveTracker {
 public:
  struct Snapshot {
    bool active = false;
    CollectiveLevel level = CollectiveLevel::kWorld;
    const char* call = "";  // the MPI function's name, a string literal
    std::uint64_t seq = 0;  // 1 for the first collective of its level
    StallClock::time_point start;
  };

  void enter(CollectiveLevel level, const char* call);
  void leave();
  Snapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  Snapshot current_;
  std::uint64_t count_[kCollectiveLevels] = {};
};

// Brackets one MPI collective.
class InFlight {
 public:
  InFlight(CollectiveTracker& tracker, CollectiveLevel level, const char* call)
      : tracker_(tracker) {
    tracker_.enter(level, call);
  }
  ~InFlight() { tracker_.leave(); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  CollectiveTracker& tracker_;
};

class StallMonitor {
 public:
  using AbortFn = std::function<void(const std::string&)>;

  // Takes `comm` (a duplicate of the world for the monitor alone; MPI_THREAD_MULTIPLE must have
  // been granted) and frees it in shutdown(). `topology` has an entry per rank of `comm`.
  // `abort` ends the job (Communicator::abort). Registers a callback that MPI_Finalize runs
  // first, so that a caller finalising MPI before the Communicator's destruction stops the
  // thread before MPI goes away.
  StallMonitor(MPI_Comm comm, const CollectiveTracker& tracker, StallTopology topology,
               AbortFn abort);
  ~StallMonitor();
  StallMonitor(const StallMonitor&) = delete;
  StallMonitor& operator=(const StallMonitor&) = delete;

  // Validated by the caller. The thread starts the first time the check is on.
  void set_options(const StallCheckOptions& options);
  bool active() const;

  // Collective: stops the thread, receives every message the peers sent, completes every send
  // and frees the communicator. Idempotent.
  void shutdown() noexcept;

 private:
  // What the latest message from a rank said.
  struct Peer {
    bool waiting = false;
    CollectiveLevel level = CollectiveLevel::kWorld;
    std::uint64_t seq = 0;
    std::string call;
  };
  struct Message;
  struct Send;

  static int on_finalize(MPI_Comm, int, void*, void* extra_state);
  void stop_thread() noexcept;
  void loop();
  void tick(const StallCheckOptions& options);
  void drain();
  void receive_from(int source);
  void reap_sends();
  void send_to_all(bool waiting, CollectiveLevel level, const char* call, std::uint64_t seq);
  std::string describe(const CollectiveTracker::Snapshot& current, double waited) const;
  bool ok(int rc, const char* call);

  MPI_Comm comm_;
  const CollectiveTracker& tracker_;
  const StallTopology topology_;
  AbortFn abort_;
  int rank_ = 0, size_ = 1;
  int keyval_ = MPI_KEYVAL_INVALID;
  bool finished_ = false;

  // Shared with set_options().
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  StallCheckOptions options_;
  bool options_changed_ = false;
  bool stopping_ = false;
  bool failed_ = false;  // an MPI call failed: the check stops

  // The monitor thread's alone (and shutdown()'s once the thread is joined).
  std::vector<Peer> peers_;
  std::vector<std::int64_t> sent_, received_;
  std::list<Send> sends_;
  bool announced_ = false;
  CollectiveLevel announced_level_ = CollectiveLevel::kWorld;
  std::uint64_t announced_seq_ = 0;
  const char* announced_call_ = "";
  StallClock::time_point next_warning_;

  std::thread thread_;
};

}  // namespace dgc::detail
