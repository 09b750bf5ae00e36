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
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

#include "dgc/communicator.h"
#include "dgc/distributed_optimizer.h"
#include "dgc/error.h"
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
  dgc::DistributedOptimizer opt(comm, sgd, {{"layer.weight", w}}, dgc::Compressor());
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
  dgc::DistributedOptimizer opt(comm, sgd, {{"layer.weight", w}}, dgc::Compressor(options));
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

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "abort") return run_abort();
  if (mode == "caller-init" && argc > 2) return run_caller_init(argv[2]);
  if (mode == "reinit") return run_reinit();
  if (mode == "nan-abort") return run_nan_abort();
  if (mode == "layout-mismatch") return run_layout_mismatch();
  if (mode == "broadcast-mismatch") return run_broadcast_mismatch();
  return fail(
      "usage: dgc-mpi-probe abort | caller-init LEVEL | reinit | nan-abort | layout-mismatch | "
      "broadcast-mismatch");
}
