// dgc::Communicator: MPI's lifetime, the world and its node-level groups, the stall check. The
// collectives themselves are ProcessGroup's (process_group.cpp).
#include "dgc/communicator.h"

#include <mpi.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "dgc/error.h"
#include "process_group_state.h"
#include "stall_monitor.h"

namespace dgc {

namespace {

// MPI may be initialised and finalised once per process, so ownership is process-wide: if a
// Communicator initialised it, the last live Communicator finalises it.
std::mutex g_mutex;
int g_live_communicators = 0;
bool g_dgc_initialised_mpi = false;

void release_mpi() noexcept {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (--g_live_communicators == 0 && g_dgc_initialised_mpi) {
    MPI_Finalize();
    g_dgc_initialised_mpi = false;
  }
}

const char* thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE:
      return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED:
      return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED:
      return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE:
      return "MPI_THREAD_MULTIPLE";
    default:
      return "an unknown thread level";
  }
}

// A number of seconds from the environment, or `fallback` where the variable is unset or empty.
double seconds_from_environment(const char* name, double fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  DGC_CHECK(end != text && *end == '\0' && std::isfinite(value) && value >= 0,
            "environment variable ", name, " must be a number of seconds >= 0, got '", text, "'");
  return value;
}

// Horovod's HOROVOD_STALL_CHECK_TIME_SECONDS and HOROVOD_STALL_SHUTDOWN_TIME_SECONDS, renamed.
StallCheckOptions stall_options_from_environment() {
  StallCheckOptions options;
  options.warning_seconds =
      seconds_from_environment("DGC_STALL_CHECK_TIME_SECONDS", options.warning_seconds);
  options.timeout_seconds =
      seconds_from_environment("DGC_STALL_SHUTDOWN_TIME_SECONDS", options.timeout_seconds);
  DGC_CHECK(options.timeout_seconds == 0 ||
                (options.warning_seconds > 0 && options.timeout_seconds >= options.warning_seconds),
            "environment variable DGC_STALL_SHUTDOWN_TIME_SECONDS (", options.timeout_seconds,
            ") must be 0 or >= DGC_STALL_CHECK_TIME_SECONDS (", options.warning_seconds,
            "), and the check must be on (DGC_STALL_CHECK_TIME_SECONDS > 0)");
  return options;
}

constexpr const char* kEmulatedNodeSizeVariable = "DGC_EMULATED_NODE_SIZE";

// DGC_EMULATED_NODE_SIZE, or 0 (the real nodes) where it is unset or empty.
int emulated_node_size_from_environment() {
  const char* text = std::getenv(kEmulatedNodeSizeVariable);
  if (text == nullptr || *text == '\0') return 0;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  DGC_CHECK(end != text && *end == '\0' && errno == 0 && value >= 0 && value <= INT_MAX,
            "environment variable ", kEmulatedNodeSizeVariable,
            " must be a whole number of ranks per node >= 0 (0 or unset: the real nodes), got '",
            text, "'");
  return static_cast<int>(value);
}

// The node-local and cross-node groups: made and freed by the Communicator.
class SubGroup final : public ProcessGroup {
 public:
  SubGroup() : ProcessGroup(std::make_unique<detail::GroupState>()) {}
  detail::GroupState& state() { return group_state(); }
};

// Where every world rank sits, derived on every rank from the same gathered numbers, so that
// every rank reaches the same verdict (and the same error) without trusting the others' sums.
struct Topology {
  std::vector<int> node_of, node_rank_of;  // by world rank
  std::vector<int> node_sizes;             // by node index
};

// `gathered` holds four ints per world rank: the emulated node size it asked for, and its
// machine's (MPI_Comm_split_type SHARED) first world rank, its rank and size there.
Topology derive_topology(const std::vector<int>& gathered, int world_size,
                         const std::string& emulated_source) {
  const auto field = [&](int rank, int i) { return gathered[4 * rank + i]; };
  for (int r = 1; r < world_size; ++r) {
    DGC_CHECK(field(r, 0) == field(0, 0),
              "the ranks disagree on the emulated node size (rank 0: ", field(0, 0), ", rank ", r,
              ": ", field(r, 0), "); set ", kEmulatedNodeSizeVariable,
              " or CommunicatorOptions::emulated_node_size alike on every rank");
  }
  Topology topology;
  topology.node_of.resize(world_size);
  topology.node_rank_of.resize(world_size);
  const int emulated = field(0, 0);
  if (emulated > 0) {
    DGC_CHECK(world_size % emulated == 0, emulated_source, " does not divide the ", world_size,
              " ranks of the world into nodes of equal size");
    for (int r = 0; r < world_size; ++r) {
      topology.node_of[r] = r / emulated;
      topology.node_rank_of[r] = r % emulated;
    }
    topology.node_sizes.assign(world_size / emulated, emulated);
    return topology;
  }
  // Nodes in the order of their first world rank; ranks within a node in world order, as the
  // split's key (the world rank) makes them.
  std::map<int, int> index_of_leader;
  for (int r = 0; r < world_size; ++r) {
    const int leader = field(r, 1);
    const auto [it, added] =
        index_of_leader.emplace(leader, static_cast<int>(topology.node_sizes.size()));
    if (added) topology.node_sizes.push_back(0);
    const int node = it->second;
    DGC_CHECK(field(r, 2) == topology.node_sizes[node], "MPI's node split is inconsistent: rank ",
              r, " is rank ", field(r, 2), " of the node of rank ", leader, ", expected ",
              topology.node_sizes[node]);
    topology.node_of[r] = node;
    topology.node_rank_of[r] = topology.node_sizes[node]++;
  }
  for (int r = 0; r < world_size; ++r) {
    DGC_CHECK(field(r, 3) == topology.node_sizes[topology.node_of[r]],
              "MPI's node split is inconsistent: rank ", r, " counts ", field(r, 3),
              " ranks on its node, the others ", topology.node_sizes[topology.node_of[r]]);
  }
  return topology;
}

}  // namespace

struct Communicator::Impl {
  detail::HalfSum half;
  detail::CollectiveTracker tracker;
  SubGroup node, cross_node;
  int local_rank = 0;
  int local_size = 1;
  int emulated_node_size = 0;
  std::atomic<bool> sleep_wait{false};
  Topology topology;
  bool nodes_uniform = true;
  std::unique_ptr<detail::StallMonitor> monitor;  // null where the check cannot run
  mutable std::mutex stall_mutex;
  StallCheckOptions stall_options;

  void setup(int thread_level, Communicator& owner, const std::string& emulated_source) {
    detail::GroupState& world = owner.group_state();
    world.label = "";
    world.level = detail::CollectiveLevel::kWorld;
    world.tracker = &tracker;
    world.half = &half;
    world.sleep_wait = &sleep_wait;
    // A private duplicate keeps dgc's messages apart from the caller's, and lets errors return
    // instead of aborting without touching the caller's MPI_COMM_WORLD handler.
    DGC_MPI_CHECK(MPI_Comm_dup, MPI_COMM_WORLD, &world.comm);
    DGC_MPI_CHECK(MPI_Comm_set_errhandler, world.comm, MPI_ERRORS_RETURN);
    DGC_MPI_CHECK(MPI_Comm_rank, world.comm, &world.rank);
    DGC_MPI_CHECK(MPI_Comm_size, world.comm, &world.size);
    half.create();
    setup_topology(world, emulated_source);
    // The stall monitor calls MPI from a thread of its own while this one blocks in a collective,
    // on a communicator of its own so that its messages never match the collectives'.
    if (world.size > 1 && thread_level == MPI_THREAD_MULTIPLE) {
      MPI_Comm monitor_comm = MPI_COMM_NULL;
      DGC_MPI_CHECK(MPI_Comm_dup, world.comm, &monitor_comm);
      DGC_MPI_CHECK(MPI_Comm_set_errhandler, monitor_comm, MPI_ERRORS_RETURN);
      monitor = std::make_unique<detail::StallMonitor>(
          monitor_comm, tracker, detail::StallTopology{topology.node_of, topology.node_rank_of},
          [&owner](const std::string& message) { owner.abort(message); });
      monitor->set_options(stall_options);
    }
  }

  // Collective over the world: the machine's split, every rank's view of it gathered, then the
  // node and cross-node communicators. Not numbered for the stall check (#1 is the first
  // collective after construction).
  void setup_topology(const detail::GroupState& world, const std::string& emulated_source) {
    detail::GroupState& node_state = node.state();
    DGC_MPI_CHECK(MPI_Comm_split_type, world.comm, MPI_COMM_TYPE_SHARED, world.rank, MPI_INFO_NULL,
                  &node_state.comm);
    DGC_MPI_CHECK(MPI_Comm_rank, node_state.comm, &local_rank);
    DGC_MPI_CHECK(MPI_Comm_size, node_state.comm, &local_size);
    const int machine_leader = world_rank_of_first(node_state.comm, world.comm);

    int mine[4] = {emulated_node_size, machine_leader, local_rank, local_size};
    std::vector<int> gathered(4 * static_cast<std::size_t>(world.size));
    DGC_MPI_CHECK(MPI_Allgather, mine, 4, MPI_INT, gathered.data(), 4, MPI_INT, world.comm);
    topology = derive_topology(gathered, world.size, emulated_source);
    const int node_index = topology.node_of[world.rank];
    const int node_rank = topology.node_rank_of[world.rank];
    nodes_uniform = true;
    for (const int s : topology.node_sizes) {
      nodes_uniform = nodes_uniform && s == topology.node_sizes.front();
    }
    if (emulated_node_size > 0) {
      // The machine's split served local_rank()/local_size(); the nodes are cut by world rank.
      DGC_MPI_CHECK(MPI_Comm_free, &node_state.comm);
      DGC_MPI_CHECK(MPI_Comm_split, world.comm, node_index, world.rank, &node_state.comm);
    }
    init_group(node_state, detail::CollectiveLevel::kNode, "node().");
    DGC_CHECK(node_state.rank == node_rank &&
                  node_state.size == topology.node_sizes[static_cast<std::size_t>(node_index)],
              "the node communicator (rank ", node_state.rank, " of ", node_state.size,
              ") differs from the gathered topology (rank ", node_rank, " of ",
              topology.node_sizes[static_cast<std::size_t>(node_index)], ")");

    // Keyed by node index, so that cross_node().rank() is the node index wherever every node
    // has this node rank (always for the leaders).
    detail::GroupState& cross_state = cross_node.state();
    DGC_MPI_CHECK(MPI_Comm_split, world.comm, node_rank, node_index, &cross_state.comm);
    init_group(cross_state, detail::CollectiveLevel::kCrossNode, "cross_node().");
  }

  void init_group(detail::GroupState& group, detail::CollectiveLevel level, const char* label) {
    // Split communicators inherit the parent's handler; set it anyway, it is the contract.
    DGC_MPI_CHECK(MPI_Comm_set_errhandler, group.comm, MPI_ERRORS_RETURN);
    DGC_MPI_CHECK(MPI_Comm_rank, group.comm, &group.rank);
    DGC_MPI_CHECK(MPI_Comm_size, group.comm, &group.size);
    group.level = level;
    group.label = label;
    group.tracker = &tracker;
    group.half = &half;
    group.sleep_wait = &sleep_wait;
  }

  // The world rank of `sub`'s rank 0: a local translation, no message.
  static int world_rank_of_first(MPI_Comm sub, MPI_Comm world) {
    MPI_Group sub_group = MPI_GROUP_NULL, world_group = MPI_GROUP_NULL;
    DGC_MPI_CHECK(MPI_Comm_group, sub, &sub_group);
    DGC_MPI_CHECK(MPI_Comm_group, world, &world_group);
    const int first = 0;
    int result = MPI_UNDEFINED;
    const int rc = MPI_Group_translate_ranks(sub_group, 1, &first, world_group, &result);
    MPI_Group_free(&sub_group);
    MPI_Group_free(&world_group);
    detail::check_mpi(rc, "MPI_Group_translate_ranks", __FILE__, __LINE__);
    return result;
  }

  // Errors are ignored: this runs in the destructor, and a failed free leaks a handle at worst.
  void release(detail::GroupState& world) noexcept {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (finalised) return;             // the caller finalised MPI first; the handles went with it
    if (monitor) monitor->shutdown();  // collective, like the destructor that calls this
    for (MPI_Comm* comm : {&cross_node.state().comm, &node.state().comm, &world.comm}) {
      if (*comm != MPI_COMM_NULL) MPI_Comm_free(comm);
    }
    half.release();
  }
};

Communicator::Communicator(CommunicatorOptions options)
    : ProcessGroup(std::make_unique<detail::GroupState>()), impl_(std::make_unique<Impl>()) {
  // Before MPI is touched: a bad variable or option leaves MPI as it was.
  impl_->stall_options = stall_options_from_environment();
  DGC_CHECK(options.emulated_node_size >= 0,
            "CommunicatorOptions::emulated_node_size must be >= 0 (0: the real nodes), got ",
            options.emulated_node_size);
  impl_->sleep_wait = options.wait == WaitPolicy::kSleep;
  const int from_environment = emulated_node_size_from_environment();
  std::string emulated_source;
  if (options.emulated_node_size > 0) {
    impl_->emulated_node_size = options.emulated_node_size;
    emulated_source =
        detail::concat("CommunicatorOptions::emulated_node_size = ", options.emulated_node_size);
  } else if (from_environment > 0) {
    impl_->emulated_node_size = from_environment;
    emulated_source =
        detail::concat("environment variable ", kEmulatedNodeSizeVariable, "=", from_environment);
  }
  int provided = MPI_THREAD_SINGLE;
  bool caller_initialised = false;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    int initialised = 0, finalised = 0;
    DGC_MPI_CHECK(MPI_Initialized, &initialised);
    DGC_MPI_CHECK(MPI_Finalized, &finalised);
    DGC_CHECK(!finalised,
              "MPI was already finalised in this process and cannot be initialised again; keep "
              "one dgc::Communicator alive for the whole program");
    if (initialised) {
      DGC_MPI_CHECK(MPI_Query_thread, &provided);
      caller_initialised = !g_dgc_initialised_mpi;
    } else {
      DGC_MPI_CHECK(MPI_Init_thread, nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
      g_dgc_initialised_mpi = true;
    }
    ++g_live_communicators;
  }
  try {
    // The collectives run on the optimizer's communication thread, not the main thread.
    DGC_CHECK(provided >= MPI_THREAD_SERIALIZED, "MPI granted thread level ",
              thread_level_name(provided), " but dgc needs at least MPI_THREAD_SERIALIZED",
              caller_initialised
                  ? "; initialise MPI with MPI_Init_thread requesting MPI_THREAD_MULTIPLE"
                  : " (MPI_THREAD_MULTIPLE was requested)");
    impl_->setup(provided, *this, emulated_source);
  } catch (...) {
    impl_->release(group_state());
    release_mpi();
    throw;
  }
}

Communicator::~Communicator() {
  impl_->release(group_state());
  release_mpi();
}

int Communicator::local_rank() const { return impl_->local_rank; }
int Communicator::local_size() const { return impl_->local_size; }

ProcessGroup& Communicator::node() { return impl_->node; }
ProcessGroup& Communicator::cross_node() { return impl_->cross_node; }
int Communicator::node_count() const { return static_cast<int>(impl_->topology.node_sizes.size()); }
int Communicator::node_index() const { return impl_->topology.node_of[group_state().rank]; }
const std::vector<int>& Communicator::node_sizes() const { return impl_->topology.node_sizes; }
int Communicator::node_of(int rank) const {
  DGC_CHECK(rank >= 0 && rank < size(), "node_of: rank ", rank, " is not in [0, ", size(), ")");
  return impl_->topology.node_of[rank];
}
int Communicator::node_rank_of(int rank) const {
  DGC_CHECK(rank >= 0 && rank < size(), "node_rank_of: rank ", rank, " is not in [0, ", size(),
            ")");
  return impl_->topology.node_rank_of[rank];
}
bool Communicator::nodes_uniform() const { return impl_->nodes_uniform; }
int Communicator::emulated_node_size() const { return impl_->emulated_node_size; }

void Communicator::set_wait_policy(WaitPolicy policy) {
  impl_->sleep_wait = policy == WaitPolicy::kSleep;
}

WaitPolicy Communicator::wait_policy() const {
  return impl_->sleep_wait ? WaitPolicy::kSleep : WaitPolicy::kBlock;
}

void Communicator::set_stall_check(const StallCheckOptions& options) {
  validate(options);
  std::lock_guard<std::mutex> lock(impl_->stall_mutex);
  impl_->stall_options = options;
  if (impl_->monitor) impl_->monitor->set_options(options);
}

StallCheckOptions Communicator::stall_check() const {
  std::lock_guard<std::mutex> lock(impl_->stall_mutex);
  return impl_->stall_options;
}

bool Communicator::stall_check_active() const {
  return impl_->monitor != nullptr && impl_->monitor->active();
}

void Communicator::abort(const std::string& message, int code) const {
  std::fprintf(stderr, "dgc: rank %d: %s\n", group_state().rank, message.c_str());
  std::fflush(stderr);
  int finalised = 0;
  MPI_Finalized(&finalised);
  // MPI_COMM_WORLD, not the duplicate: the whole job must end, whatever the others are doing.
  if (!finalised) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace dgc
