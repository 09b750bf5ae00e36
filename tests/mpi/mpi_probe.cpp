// Scenarios that need a fresh process each: how Communicator starts, ends and aborts. Exits 0
// when the scenario behaves as it should, else prints why and exits 1.
//   abort            rank 1 aborts while rank 0 waits in a barrier (needs two ranks; see
//                    abort_probe.sh, which checks that the job ends non-zero with the message)
//   caller-init L    the caller initialises MPI at thread level L (single, funneled, serialized,
//                    multiple) first; below serialized the Communicator must refuse naming both
//                    levels, otherwise work, and leave MPI for the caller to finalise
//   reinit           a second Communicator after the first finalised MPI must be refused
//   nan-abort        under DistributedOptimizer with DGC, rank 1's gradient holds a NaN: its
//                    communication thread must end the whole job with the tensor's name, while
//                    rank 0 waits in the bucket's allgather (see abort_probe.sh)
//   layout-mismatch  the ranks disagree on the compress ratio (as when they resumed from
//                    different epochs of a sparsity warm-up): their slots differ in size, and the
//                    job must end with one error naming both layouts before any payload moves
//   broadcast-mismatch  rank 1 broadcasts a longer tensor than the root: one error, no overflow
// The stall check (see stall_probe.sh, which checks the exit code and the warnings on stderr):
//   stall-sleep      np 3, the check set through DGC_STALL_CHECK_TIME_SECONDS=1: rank 1 sleeps
//                    4 s before the allreduce #2 that the others wait in, then the job goes on
//   stall-stop       np 3, warning 1 s, timeout 3 s: rank 1 stops itself (SIGSTOP) before the
//                    allreduce #2; the monitor must end the job
//   stall-mismatch   np 2, warning 1 s, timeout 3 s: rank 0 calls a barrier, rank 1 an allreduce
//                    (#2 both), a deadlock the monitor must report and end
//   stall-quiet      np >= 2, warning 2 s: 4 s of collectives of every kind, checked, no warning
//   stall-options    the options: the environment's, set_stall_check, and the errors
//   finalize-first   np >= 2, the caller initialises MPI and finalises it before the
//                    Communicator's destruction, the monitor running
//   stall-node       np 4 in 2 emulated nodes, warning 1 s: rank 1 arrives 6 s late at its node's
//                    allreduce #1; ranks 2, 3 sleep 2 s, pass theirs, and wait in the world's #1;
//                    then rank 2 arrives 3 s late at the leaders' cross-node allreduce #1
// Nodes:
//   emulated-env     DGC_EMULATED_NODE_SIZE: bad values and a size that does not divide the world
//                    refused with the variable's name, ranks that disagree (np >= 2), the option
//                    winning over the variable, 0 and empty meaning the real nodes
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/distributed_optimizer.h"
#include "dgc/error.h"
#include "dgc/hooks/dgc_hook.h"
#include "dgc/sgd.h"

namespace {

int fail(const std::string& why) {
  std::fprintf(stderr, "probe: %s\n", why.c_str());
  return 1;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

int run_abort() {
  dgc::Communicator comm;
  if (comm.size() < 2) return fail("abort needs two ranks");
  if (comm.rank() == 1) comm.abort("probe failure on purpose", 3);
  comm.barrier();
  std::printf("rank %d passed the barrier\n", comm.rank());
  return 0;
}

int run_caller_init(const std::string& level_name) {
  int level = -1;
  if (level_name == "single") level = MPI_THREAD_SINGLE;
  if (level_name == "funneled") level = MPI_THREAD_FUNNELED;
  if (level_name == "serialized") level = MPI_THREAD_SERIALIZED;
  if (level_name == "multiple") level = MPI_THREAD_MULTIPLE;
  if (level < 0) return fail("unknown thread level " + level_name);
  int provided = -1;
  MPI_Init_thread(nullptr, nullptr, level, &provided);
  if (provided != level) return fail("MPI granted another level than requested");
  int result = 0;
  try {
    dgc::Communicator comm;
    if (level < MPI_THREAD_SERIALIZED) {
      result = fail("Communicator accepted thread level " + level_name);
    } else {
      std::int64_t one = 1;
      comm.allreduce(&one, 1, torch::kLong, dgc::ReduceOp::kSum);
      if (one != comm.size()) result = fail("allreduce gave " + std::to_string(one));
    }
  } catch (const dgc::Error& e) {
    const std::string message = e.what();
    const std::string upper = level == MPI_THREAD_SINGLE ? "SINGLE" : "FUNNELED";
    if (level >= MPI_THREAD_SERIALIZED || !contains(message, "MPI_THREAD_" + upper) ||
        !contains(message, "at least MPI_THREAD_SERIALIZED")) {
      result = fail("unexpected error: " + message);
    }
  }
  int finalised = 1;
  MPI_Finalized(&finalised);
  if (finalised) return fail("Communicator finalised MPI that the caller initialised");
  MPI_Finalize();
  return result;
}

int run_reinit() {
  { dgc::Communicator first; }
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (!finalised) return fail("the only Communicator did not finalise the MPI it initialised");
  try {
    dgc::Communicator second;
  } catch (const dgc::Error& e) {
    if (contains(e.what(), "MPI was already finalised")) return 0;
    return fail(std::string("unexpected error: ") + e.what());
  }
  return fail("a Communicator was constructed after MPI_Finalize");
}

int run_nan_abort() {
  dgc::Communicator comm;
  if (comm.size() < 2) return fail("nan-abort needs two ranks");
  auto w = torch::zeros({10, 20}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::DistributedOptimizer opt(comm, sgd, {{"layer.weight", w}},
                                std::make_unique<dgc::DgcHook>(dgc::Compressor()));
  auto g = torch::ones({10, 20});
  if (comm.rank() == 1) g[2][3] = std::numeric_limits<float>::quiet_NaN();
  (w * g).sum().backward();
  opt.step();
  std::printf("rank %d finished the step\n", comm.rank());
  return 0;
}

// Rank r compresses to 1 / (100 * (r + 1)) of a 100 x 100 tensor: 100 entries on rank 0, 50 on
// rank 1, so rank 1's receive buffer is half of what rank 0 would send into it.
int run_layout_mismatch() {
  dgc::Communicator comm;
  if (comm.size() < 2) return fail("layout-mismatch needs two ranks");
  auto w = torch::zeros({100, 100}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::CompressorOptions options;
  options.compress_ratio = 0.01 / (comm.rank() + 1);
  dgc::DistributedOptimizer opt(comm, sgd, {{"layer.weight", w}},
                                std::make_unique<dgc::DgcHook>(dgc::Compressor(options)));
  (w * torch::randn({100, 100})).sum().backward();
  opt.step();
  std::printf("rank %d finished the step\n", comm.rank());
  return 0;
}

int run_broadcast_mismatch() {
  dgc::Communicator comm;
  if (comm.size() < 2) return fail("broadcast-mismatch needs two ranks");
  auto w = torch::zeros({10}, torch::requires_grad());
  dgc::DGCSGD sgd({w}, torch::optim::SGDOptions(0.1));
  dgc::DistributedOptimizer opt(comm, sgd, {{"w", w}});
  opt.broadcast_tensors({torch::zeros({comm.rank() == 1 ? 1000 : 10})}, 0);
  std::printf("rank %d finished the step\n", comm.rank());
  return 0;
}

// Every collective of the raw API, with its result checked; true when all are right.
bool collectives_agree(dgc::Communicator& comm, int round) {
  const int n = comm.size(), me = comm.rank();
  std::int64_t sum = me + round;
  comm.allreduce(&sum, 1, torch::kLong, dgc::ReduceOp::kSum);
  bool right =
      sum == static_cast<std::int64_t>(n) * (n - 1) / 2 + static_cast<std::int64_t>(n) * round;
  std::vector<std::int32_t> all(n);
  const std::int32_t mine = me * 10 + round;
  comm.allgather(&mine, sizeof mine, all.data());
  for (int r = 0; r < n; ++r) right = right && all[r] == r * 10 + round;
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(me + 1), static_cast<std::uint8_t>(me));
  std::vector<std::int64_t> sizes;
  std::vector<std::uint8_t> gathered;
  comm.allgatherv(bytes.data(), static_cast<std::int64_t>(bytes.size()), sizes, gathered);
  right = right && gathered.size() == static_cast<std::size_t>(n * (n + 1) / 2);
  std::int64_t root_value = me == round % n ? 1000 + round : -1;
  comm.broadcast(&root_value, sizeof root_value, round % n);
  right = right && root_value == 1000 + round;
  comm.barrier();
  return right;
}

int run_stall_sleep() {
  dgc::Communicator comm;  // DGC_STALL_CHECK_TIME_SECONDS=1 from the environment
  if (comm.size() < 3) return fail("stall-sleep needs three ranks");
  if (comm.stall_check().warning_seconds != 1 || !comm.stall_check_active()) {
    return fail("the check is not on with the environment's 1 s");
  }
  comm.barrier();  // #1
  if (comm.rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(4));
  std::int64_t sum = comm.rank();
  comm.allreduce(&sum, 1, torch::kLong, dgc::ReduceOp::kSum);  // #2
  if (sum != 3) return fail("allreduce gave " + std::to_string(sum));
  if (!collectives_agree(comm, 1)) return fail("a collective gave a wrong result after the stall");
  std::printf("rank %d finished\n", comm.rank());
  return 0;
}

int run_stall_stop() {
  dgc::Communicator comm;
  if (comm.size() < 3) return fail("stall-stop needs three ranks");
  comm.set_stall_check({/*warning_seconds=*/1, /*timeout_seconds=*/3});
  comm.barrier();  // #1
  if (comm.rank() == 1) {
    std::fprintf(stderr, "rank 1 (pid %d) stops itself\n", static_cast<int>(getpid()));
    std::raise(SIGSTOP);
  }
  std::int64_t sum = comm.rank();
  comm.allreduce(&sum, 1, torch::kLong, dgc::ReduceOp::kSum);  // #2
  std::printf("rank %d passed the allreduce\n", comm.rank());
  return 0;
}

int run_stall_mismatch() {
  dgc::Communicator comm;
  if (comm.size() != 2) return fail("stall-mismatch needs two ranks");
  comm.set_stall_check({/*warning_seconds=*/1, /*timeout_seconds=*/3});
  comm.barrier();  // #1
  if (comm.rank() == 0) {
    comm.barrier();  // #2
  } else {
    std::int64_t one = 1;
    comm.allreduce(&one, 1, torch::kLong, dgc::ReduceOp::kSum);  // #2
  }
  std::printf("rank %d passed the mismatched collective\n", comm.rank());
  return 0;
}

int run_stall_quiet() {
  dgc::Communicator comm;
  if (comm.size() < 2) return fail("stall-quiet needs two ranks or more");
  comm.set_stall_check({/*warning_seconds=*/2, /*timeout_seconds=*/0});
  if (!comm.stall_check_active()) return fail("the check is not active");
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  int round = 0;
  for (bool more = true; more; ++round) {
    if (!collectives_agree(comm, round)) return fail("round " + std::to_string(round) + " wrong");
    // Every rank leaves the loop at the same round: rank 0's clock decides.
    std::int32_t go_on = std::chrono::steady_clock::now() < end ? 1 : 0;
    comm.broadcast(&go_on, sizeof go_on, 0);
    more = go_on != 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::printf("rank %d finished %d rounds\n", comm.rank(), round);
  return 0;
}

// Singleton: the constructor reads the environment before touching MPI, so a refused one leaves
// MPI uninitialised and the next may start it.
int run_stall_options() {
  const auto refused = [](const char* warning, const char* timeout, const std::string& part) {
    setenv("DGC_STALL_CHECK_TIME_SECONDS", warning, 1);
    setenv("DGC_STALL_SHUTDOWN_TIME_SECONDS", timeout, 1);
    try {
      dgc::Communicator comm;
    } catch (const dgc::Error& e) {
      if (contains(e.what(), part)) return true;
      std::fprintf(stderr, "probe: unexpected error: %s\n", e.what());
      return false;
    }
    std::fprintf(stderr, "probe: (%s, %s) was accepted\n", warning, timeout);
    return false;
  };
  if (!refused("soon", "0",
               "DGC_STALL_CHECK_TIME_SECONDS must be a number of seconds >= 0, got 'soon'") ||
      !refused("-1", "0", "DGC_STALL_CHECK_TIME_SECONDS must be a number") ||
      !refused("10", "5s",
               "DGC_STALL_SHUTDOWN_TIME_SECONDS must be a number of seconds >= 0, got '5s'") ||
      !refused("10", "5",
               "DGC_STALL_SHUTDOWN_TIME_SECONDS (5) must be 0 or >= DGC_STALL_CHECK_TIME_SECONDS "
               "(10)") ||
      !refused("0", "5", "the check must be on")) {
    return 1;
  }
  setenv("DGC_STALL_CHECK_TIME_SECONDS", "2.5", 1);
  setenv("DGC_STALL_SHUTDOWN_TIME_SECONDS", "30", 1);
  dgc::Communicator comm;
  auto options = comm.stall_check();
  if (options.warning_seconds != 2.5 || options.timeout_seconds != 30) {
    return fail("the environment's options were not taken");
  }
  if (comm.stall_check_active()) return fail("a world of one has no stall check to run");
  const auto rejected = [&](dgc::StallCheckOptions bad, const std::string& part) {
    try {
      comm.set_stall_check(bad);
    } catch (const dgc::Error& e) {
      if (contains(e.what(), part) && comm.stall_check().warning_seconds == 2.5) return true;
      std::fprintf(stderr, "probe: unexpected error: %s\n", e.what());
      return false;
    }
    std::fprintf(stderr, "probe: (%g, %g) was accepted\n", bad.warning_seconds,
                 bad.timeout_seconds);
    return false;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (!rejected({-1, 0}, "warning_seconds must be a finite number >= 0, got -1") ||
      !rejected({nan, 0}, "warning_seconds must be a finite number >= 0") ||
      !rejected({1, -2}, "timeout_seconds must be a finite number >= 0, got -2") ||
      !rejected({10, 5}, "timeout_seconds (5) must be 0 or >= warning_seconds (10)") ||
      !rejected({0, 5}, "the check must be on")) {
    return 1;
  }
  comm.set_stall_check({0, 0});
  options = comm.stall_check();
  if (options.warning_seconds != 0 || options.timeout_seconds != 0) return fail("not replaced");
  unsetenv("DGC_STALL_CHECK_TIME_SECONDS");
  unsetenv("DGC_STALL_SHUTDOWN_TIME_SECONDS");
  return 0;
}

int run_finalize_first() {
  int provided = -1;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  if (provided != MPI_THREAD_MULTIPLE) return fail("MPI did not grant MPI_THREAD_MULTIPLE");
  auto comm = std::make_unique<dgc::Communicator>();
  if (comm->size() < 2) return fail("finalize-first needs two ranks or more");
  comm->set_stall_check({/*warning_seconds=*/0.2, /*timeout_seconds=*/0});
  if (!comm->stall_check_active()) return fail("the check is not active");
  comm->barrier();
  // Long enough for the monitor to tick a few times (every 50 ms here).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  MPI_Finalize();
  if (comm->stall_check_active()) return fail("the monitor still runs after MPI_Finalize");
  comm.reset();
  std::printf("rank finished\n");
  return 0;
}

int run_stall_node() {
  dgc::Communicator comm(dgc::CommunicatorOptions{/*emulated_node_size=*/2});
  if (comm.size() != 4) return fail("stall-node needs four ranks");
  comm.set_stall_check({/*warning_seconds=*/1, /*timeout_seconds=*/0});
  if (!comm.stall_check_active()) return fail("the check is not active");
  const int rank = comm.rank();
  // Until 2 s ranks 2 and 3 are in no collective: they are in node 1, not missing from node 0's.
  if (rank == 1) std::this_thread::sleep_for(std::chrono::seconds(6));
  if (rank >= 2) std::this_thread::sleep_for(std::chrono::seconds(2));
  std::int64_t node_sum = rank;
  comm.node().allreduce(&node_sum, 1, torch::kLong, dgc::ReduceOp::kSum);  // node #1
  if (node_sum != (rank < 2 ? 1 : 5))
    return fail("node allreduce gave " + std::to_string(node_sum));
  std::int64_t sum = rank;
  comm.allreduce(&sum, 1, torch::kLong, dgc::ReduceOp::kSum);  // world #1
  if (sum != 6) return fail("allreduce gave " + std::to_string(sum));
  // Then between the leaders: rank 2 arrives 3 s late at the leaders' allreduce; ranks 1 and 3,
  // whose cross-node group is their own, pass theirs and wait in the world's barrier.
  if (rank == 2) std::this_thread::sleep_for(std::chrono::seconds(3));
  std::int64_t cross_sum = rank;
  comm.cross_node().allreduce(&cross_sum, 1, torch::kLong, dgc::ReduceOp::kSum);  // cross #1
  if (cross_sum != (rank % 2 == 0 ? 2 : 4)) {
    return fail("cross-node allreduce gave " + std::to_string(cross_sum));
  }
  comm.barrier();  // world #2
  std::printf("rank %d finished\n", rank);
  return 0;
}

int run_emulated_env() {
  const char* const name = "DGC_EMULATED_NODE_SIZE";
  unsetenv(name);
  // Keeps MPI initialised while refused Communicators come and go (the last one to go would
  // finalise it). Its monitor is stopped: nothing else runs while the environment changes.
  dgc::Communicator keeper;
  keeper.set_stall_check({0, 0});
  const int n = keeper.size(), rank = keeper.rank();
  const auto refused = [&](const std::string& value, dgc::CommunicatorOptions options,
                           const std::string& expected) {
    setenv(name, value.c_str(), 1);
    try {
      dgc::Communicator comm(options);
    } catch (const dgc::Error& e) {
      if (e.message() == expected) return true;
      std::fprintf(stderr, "probe: rank %d: for '%s': unexpected error: %s\n", rank, value.c_str(),
                   e.what());
      return false;
    }
    std::fprintf(stderr, "probe: rank %d: '%s' was accepted\n", rank, value.c_str());
    return false;
  };
  const std::string whole =
      "environment variable DGC_EMULATED_NODE_SIZE must be a whole number of ranks per node >= 0 "
      "(0 or unset: the real nodes), got '";
  for (const std::string bad : {"two", "-2", "2.5", "2x", "99999999999"}) {
    if (!refused(bad, {}, whole + bad + "'")) return 1;
  }
  // Read, and checked, even where the option decides.
  if (!refused("two", {1}, whole + "two'")) return 1;
  const int divisor = n == 4 ? 3 : n + 1;
  if (!refused(std::to_string(divisor), {},
               "environment variable DGC_EMULATED_NODE_SIZE=" + std::to_string(divisor) +
                   " does not divide the " + std::to_string(n) +
                   " ranks of the world into nodes of equal size")) {
    return 1;
  }
  if (n >= 2 && !refused(rank == 0 ? "1" : "2", {},
                         "the ranks disagree on the emulated node size (rank 0: 1, rank 1: 2); "
                         "set DGC_EMULATED_NODE_SIZE or CommunicatorOptions::emulated_node_size "
                         "alike on every rank")) {
    return 1;
  }
  const auto layout = [&](const std::string& value, dgc::CommunicatorOptions options, int emulated,
                          int node_count) {
    setenv(name, value.c_str(), 1);
    dgc::Communicator comm(options);
    if (comm.emulated_node_size() == emulated && comm.node_count() == node_count) return true;
    std::fprintf(stderr, "probe: rank %d: for '%s': emulated size %d, %d nodes\n", rank,
                 value.c_str(), comm.emulated_node_size(), comm.node_count());
    return false;
  };
  // All ranks run on this machine: the real nodes are one.
  if (!layout("", {}, 0, 1) || !layout("0", {}, 0, 1) || !layout("1", {}, 1, n) ||
      !layout(std::to_string(divisor), {1}, 1, n)) {
    return 1;
  }
  unsetenv(name);
  std::printf("rank %d: emulated-env ok\n", rank);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "abort") return run_abort();
  if (mode == "caller-init" && argc > 2) return run_caller_init(argv[2]);
  if (mode == "reinit") return run_reinit();
  if (mode == "nan-abort") return run_nan_abort();
  if (mode == "layout-mismatch") return run_layout_mismatch();
  if (mode == "broadcast-mismatch") return run_broadcast_mismatch();
  if (mode == "stall-sleep") return run_stall_sleep();
  if (mode == "stall-stop") return run_stall_stop();
  if (mode == "stall-mismatch") return run_stall_mismatch();
  if (mode == "stall-quiet") return run_stall_quiet();
  if (mode == "stall-options") return run_stall_options();
  if (mode == "finalize-first") return run_finalize_first();
  if (mode == "stall-node") return run_stall_node();
  if (mode == "emulated-env") return run_emulated_env();
  return fail(
      "usage: dgc-mpi-probe abort | caller-init LEVEL | reinit | nan-abort | layout-mismatch | "
      "broadcast-mismatch | stall-sleep | stall-stop | stall-mismatch | stall-quiet | "
      "stall-options | finalize-first | stall-node | emulated-env");
}
