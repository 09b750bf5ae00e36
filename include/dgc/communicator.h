// dgc::Communicator: the MPI collectives dgc needs, and the only code in the library that calls
// MPI.
//
// Construction initialises MPI (unless the caller already did) and duplicates MPI_COMM_WORLD, so
// dgc's messages never mix with the caller's. Every MPI failure, and every bad argument, is a
// dgc::Error naming the call or the argument; nothing aborts behind the caller's back, except the
// stall check's timeout when the caller turned it on.
//
// Without mpirun the program is a world of one (an MPI singleton) and every collective is a copy
// or a no-op, so the same code runs on a laptop and on a cluster.
//
// Stalls: every collective is numbered (#1 is the first after construction; the numbers agree
// between ranks because the calls happen in the same order) and marked in progress while it
// blocks. A monitor thread warns on stderr when a collective has blocked for
// StallCheckOptions::warning_seconds, naming the ranks that have not reached it and those waiting
// in another collective, and can end the job after timeout_seconds (docs/DISTRIBUTED.md,
// "Stalls"). It is on by default (60 s, no timeout), like Horovod's, and runs only when size() > 1
// and MPI granted MPI_THREAD_MULTIPLE; otherwise there is no check. It sends messages only while a
// collective is stalled, on a communicator of its own.
//
// Thread safety: none, except set_stall_check(), stall_check(), stall_check_active() and abort(),
// which any thread may call at any time. One thread at a time may use a Communicator (it need not
// be the thread that constructed it; MPI is asked for MPI_THREAD_MULTIPLE and must grant at least
// MPI_THREAD_SERIALIZED). Collectives must be called in the same order, with matching arguments,
// on every rank: argument checks are local, so a call rejected on one rank and not on another
// leaves the others waiting (the stall check then names the rank). The constructor and destructor
// are collective too.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dgc/export.h"
#include "dgc/stall_check.h"

namespace dgc {

enum class ReduceOp {
  kSum,
  kAverage,  // the sum divided by size(); floating-point dtypes only
};

class DGC_EXPORT Communicator {
 public:
  // Initialises MPI if it is not initialised yet; MPI is then finalised when the last live
  // Communicator is destroyed. If the caller initialised MPI, the caller finalises it. MPI
  // cannot be initialised twice in one process: keep one Communicator for the program's life.
  // Throws dgc::Error if the granted thread level is below MPI_THREAD_SERIALIZED or MPI was
  // already finalised. The stall check starts with StallCheckOptions' defaults, or with the
  // environment's DGC_STALL_CHECK_TIME_SECONDS and DGC_STALL_SHUTDOWN_TIME_SECONDS where set (a
  // bad value is a dgc::Error naming the variable).
  Communicator();
  ~Communicator();

  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  Communicator(Communicator&&) = delete;
  Communicator& operator=(Communicator&&) = delete;

  int rank() const;
  int size() const;
  // Rank and size among the processes sharing this machine's memory (to split cores or GPUs).
  int local_rank() const;
  int local_size() const;

  // Raw buffers, for packed buckets. Counts and byte sizes must be in [0, INT_MAX] (MPI counts
  // are int); allgatherv's total must be too.

  // In place; `count` elements of `dtype`: float32, float64, int32, int64 or float16 (summed in
  // float, rounded to half at each step).
  void allreduce(void* data, std::int64_t count, torch::ScalarType dtype, ReduceOp op);
  // `recv` holds size() * bytes_per_rank bytes, rank r's at offset r * bytes_per_rank.
  void allgather(const void* send, std::int64_t bytes_per_rank, void* recv);
  // Ranks may send different sizes. Fills bytes_per_rank[r] with rank r's size and `recv` with
  // every rank's bytes in rank order (both are resized; their capacity is reused).
  void allgatherv(const void* send, std::int64_t bytes, std::vector<std::int64_t>& bytes_per_rank,
                  std::vector<std::uint8_t>& recv);
  void broadcast(void* data, std::int64_t bytes, int root);

  // Tensors: defined, dense, contiguous, on the CPU; anything else is a dgc::Error.

  // In place; the dtypes of the raw form.
  void allreduce(torch::Tensor& tensor, ReduceOp op);
  // Every rank's tensor (same numel and dtype on every rank), flattened and concatenated in rank
  // order: shape [size() * numel].
  torch::Tensor allgather(const torch::Tensor& tensor);
  // Like allgather, but numel may differ between ranks. The dtype must not: a mismatch is a
  // dgc::Error on every rank.
  torch::Tensor allgatherv(const torch::Tensor& tensor);
  // In place; same numel and dtype on every rank.
  void broadcast(torch::Tensor& tensor, int root);

  void barrier();

  // Replaces the stall check's options (those of the constructor, environment included); local,
  // takes effect within a second. Throws dgc::Error (see validate) and leaves the options as they
  // were if they are bad. Where the check cannot run (size() == 1, or MPI granted less than
  // MPI_THREAD_MULTIPLE) the options are kept and stall_check_active() stays false.
  void set_stall_check(const StallCheckOptions& options);
  StallCheckOptions stall_check() const;
  // Whether a monitor thread watches the collectives now (the check can run and is on).
  bool stall_check_active() const;

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
