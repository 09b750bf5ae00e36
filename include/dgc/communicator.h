// dgc::Communicator: the world's process group (include/dgc/process_group.h: the collectives),
// the node topology, and the only code in the library that calls MPI.
//
// Construction initialises MPI (unless the caller already did) and duplicates MPI_COMM_WORLD, so
// dgc's messages never mix with the caller's. Every MPI failure, and every bad argument, is a
// dgc::Error naming the call or the argument; nothing aborts behind the caller's back, except the
// stall check's timeout when the caller turned it on.
//
// Without mpirun the program is a world of one (an MPI singleton) and every collective is a copy
// or a no-op, so the same code runs on a laptop and on a cluster.
//
// Nodes (docs/DISTRIBUTED.md, "Nodes and the topology"): the ranks that share a machine's memory
// (MPI_Comm_split_type SHARED, so each host of `mpirun -H` is one), or, with an emulated node
// size s (CommunicatorOptions, or the environment's DGC_EMULATED_NODE_SIZE), world ranks
// [k*s, (k+1)*s) as node k, to test two-level exchanges on one machine. node() is the group of
// this rank's node; cross_node() groups the ranks that have the same rank in their nodes (as
// Horovod's cross communicator), so node rank 0 of every node, the node leaders, form one
// cross_node() group, in node order: there cross_node().rank() == node_index(). Every rank
// gathers every rank's node at construction and checks that they agree; nodes need not have the
// same size (nodes_uniform() says whether they do), and then cross_node().size() differs between
// node ranks.
//
// Stalls: every collective is numbered (#1 is the first after construction; the numbers agree
// between ranks because the calls happen in the same order) and marked in progress while it
// blocks. A monitor thread warns on stderr when a collective has blocked for
// StallCheckOptions::warning_seconds, naming the ranks that have not reached it and those waiting
// in another collective, and can end the job after timeout_seconds (docs/DISTRIBUTED.md,
// "Stalls"). It is on by default (60 s, no timeout), like Horovod's, and runs only when size() > 1
// and MPI granted MPI_THREAD_MULTIPLE; otherwise there is no check. It sends messages only while a
// collective is stalled, on a communicator of its own. The node() and cross_node() groups have no
// monitor of their own: their collectives are numbered separately (per group, so the numbers agree
// between the group's ranks) and watched by the world's monitor, which names them with the group
// ("MPI_Allreduce #3 in node 1"); a rank blocked in one is reported as waiting there, and ranks
// outside that group are not counted as missing from it.
//
// Thread safety: none, except set_stall_check(), stall_check(), stall_check_active() and abort(),
// which any thread may call at any time. One thread at a time may use a Communicator and its
// node() and cross_node() groups (it need not be the thread that constructed it; MPI is asked for
// MPI_THREAD_MULTIPLE and must grant at least MPI_THREAD_SERIALIZED). Collectives must be called
// in the same order, with matching arguments, on every rank: argument checks are local, so a call
// rejected on one rank and not on another leaves the others waiting (the stall check then names
// the rank). The constructor and destructor are collective too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dgc/export.h"
#include "dgc/process_group.h"
#include "dgc/stall_check.h"

namespace dgc {

// How a thread waits inside a collective.
enum class WaitPolicy {
  // MPI's blocking call. Open MPI polls in it without pause: the waiting thread keeps its core
  // busy for the whole transfer, which the training threads of the same rank then lack.
  kBlock,
  // The nonblocking collective, tested at growing intervals (10 us doubling to 250 us) with the
  // thread asleep between tests, so that a slow transfer leaves the core to backward. Open MPI
  // moves data only while a test runs, so a step can take up to one interval longer per round
  // of the collective's algorithm. The results are those of the nonblocking algorithms, which
  // may add in another order than the blocking ones (floating-point sums may differ in the last
  // bits; every rank still gets the same values).
  kSleep,
};

// What one rank handed to and got back from a collective made of several, in payload bytes, and
// how much of that stayed inside its node (shared memory on a real machine, not the network).
struct CollectiveBytes {
  std::int64_t sent = 0;
  std::int64_t received = 0;
  std::int64_t intra_node = 0;
};

struct CommunicatorOptions {
  // Ranks per emulated node: world ranks [k*s, (k+1)*s) form node k, whatever machine they run
  // on, so that a two-level exchange can be tested and measured on one machine (mpirun -np 4
  // with 2 gives 2 nodes of 2 ranks). It must divide the world size. 0: the real nodes (the
  // ranks sharing a machine's memory), unless the environment variable DGC_EMULATED_NODE_SIZE
  // gives a size; a size set here wins over the variable. Use the same value on every rank (a
  // difference is a dgc::Error on every rank). Default: 0.
  int emulated_node_size = 0;
  // For every collective of the Communicator and its node() and cross_node() groups; see
  // set_wait_policy.
  WaitPolicy wait = WaitPolicy::kBlock;
};

class DGC_EXPORT Communicator : public ProcessGroup {
 public:
  // Initialises MPI if it is not initialised yet; MPI is then finalised when the last live
  // Communicator is destroyed. If the caller initialised MPI, the caller finalises it. MPI
  // cannot be initialised twice in one process: keep one Communicator for the program's life.
  // Throws dgc::Error if the granted thread level is below MPI_THREAD_SERIALIZED or MPI was
  // already finalised. The stall check starts with StallCheckOptions' defaults, or with the
  // environment's DGC_STALL_CHECK_TIME_SECONDS and DGC_STALL_SHUTDOWN_TIME_SECONDS where set (a
  // bad value is a dgc::Error naming the variable). Emulated nodes: see CommunicatorOptions; a bad
  // DGC_EMULATED_NODE_SIZE (not a whole number >= 0, or not dividing the world size) is a
  // dgc::Error naming the variable, on every rank.
  explicit Communicator(CommunicatorOptions options = {});
  ~Communicator();

  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  Communicator(Communicator&&) = delete;
  Communicator& operator=(Communicator&&) = delete;

  // rank(), size() and the collectives: ProcessGroup's, over the whole world.

  // Rank and size among the processes sharing this machine's memory, to split its cores or GPUs
  // between them. They stay the machine's when nodes are emulated (four ranks on one machine
  // still share its cores four ways); node() has the emulated node's.
  int local_rank() const;
  int local_size() const;

  // This rank's node (see the opening comment): its ranks in world order.
  ProcessGroup& node();
  // The ranks whose node().rank() equals this rank's, one per node, in node order.
  ProcessGroup& cross_node();
  // Nodes are numbered in the order of their first world rank.
  int node_count() const;
  int node_index() const;
  // Ranks per node, by node index (gathered from every rank, not assumed).
  const std::vector<int>& node_sizes() const;
  // The node index of world rank `rank`, and its rank in that node; a rank outside [0, size())
  // is a dgc::Error.
  int node_of(int rank) const;
  int node_rank_of(int rank) const;
  // Whether every node has the same number of ranks; then cross_node().size() == node_count()
  // on every rank.
  bool nodes_uniform() const;
  // The emulated node size in effect (from the options or the environment); 0 for real nodes.
  int emulated_node_size() const;

  // allgatherv() over the world through the node leaders, as Horovod's hierarchical allgather:
  // the node's ranks' bytes gathered inside the node, the nodes' blocks (each node's sizes, then
  // its ranks' bytes) allgathered between the leaders (node rank 0's cross_node()), and that
  // result broadcast inside each node. The network then carries each rank's bytes once per other
  // node, not once per other rank. Fills bytes_per_rank and recv exactly as allgatherv() does, in
  // world rank order. A leader's block comes from another host: every rank checks every size in
  // it before a byte is copied, and a malformed one is a dgc::Error naming the node, on every
  // rank of the node. Collective over the world; returns what this rank moved.
  CollectiveBytes allgatherv_through_leaders(const void* send, std::int64_t bytes,
                                             std::vector<std::int64_t>& bytes_per_rank,
                                             std::vector<std::uint8_t>& recv);

  // Replaces the stall check's options (those of the constructor, environment included); local,
  // takes effect within a second. Throws dgc::Error (see validate) and leaves the options as they
  // were if they are bad. Where the check cannot run (size() == 1, or MPI granted less than
  // MPI_THREAD_MULTIPLE) the options are kept and stall_check_active() stays false.
  void set_stall_check(const StallCheckOptions& options);
  StallCheckOptions stall_check() const;
  // Whether a monitor thread watches the collectives now (the check can run and is on).
  bool stall_check_active() const;

  // How the Communicator's collectives wait, from the next collective on. Local: each rank may
  // choose its own. Call it between collectives (not while another thread is inside one).
  void set_wait_policy(WaitPolicy policy);
  WaitPolicy wait_policy() const;

  // Prints "dgc: rank R: <message>" on stderr and ends every process of the job with exit code
  // `code` (MPI_Abort on MPI_COMM_WORLD), even those blocked in a collective or stopped. For
  // failures one rank cannot recover from without leaving the others waiting. Any thread may call
  // it.
  [[noreturn]] void abort(const std::string& message, int code = 1) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dgc
