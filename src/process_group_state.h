// What a dgc::ProcessGroup holds, and the MPI error check of the communicator layer (the only
// code that calls MPI: communicator.cpp, process_group.cpp, stall_monitor.cpp). Internal.
#pragma once

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "dgc/process_group.h"
#include "stall_monitor.h"

namespace dgc::detail {

// Throws dgc::Error with the MPI function's name and MPI's own explanation; the location is the
// call site.
void check_mpi(int rc, const char* call, const char* file, int line);

#define DGC_MPI_CHECK(fn, ...) ::dgc::detail::check_mpi(fn(__VA_ARGS__), #fn, __FILE__, __LINE__)

// MPI has no half types: a 2-byte datatype and a summing operator per type stand in for them,
// made once per Communicator and shared by its groups.
struct HalfSum {
  MPI_Datatype type = MPI_DATATYPE_NULL;  // any 2-byte element: float16 and bfloat16
  MPI_Op op = MPI_OP_NULL;                // float16
  MPI_Op bfloat16_op = MPI_OP_NULL;

  void create();
  void release() noexcept;
};

// The Communicator makes and frees the handles; a group only uses them.
struct GroupState {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  CollectiveLevel level = CollectiveLevel::kWorld;
  // Prefixes the call in error messages: "" for the world, "node()." or "cross_node().".
  const char* label = "";
  CollectiveTracker* tracker = nullptr;  // the Communicator's, shared by its groups
  const HalfSum* half = nullptr;
  // The Communicator's WaitPolicy::kSleep, shared by its groups.
  const std::atomic<bool>* sleep_wait = nullptr;

  // The one dtype table: which MPI datatype and sum carry each supported dtype.
  void reduction_for(torch::ScalarType dtype, MPI_Datatype* type, MPI_Op* op) const;
  // Every rank's (bytes, dtype tag) pair, so that a bad size or a dtype mismatch on any rank is
  // seen, and rejected, by every rank alike instead of leaving the others in the collective.
  std::vector<std::int64_t> exchange_sizes(std::int64_t bytes, std::int64_t dtype_tag,
                                           const char* call);
  // `sizes` comes from exchange_sizes, which has checked every count and the total.
  void allgatherv_bytes(const void* send, const std::vector<std::int64_t>& sizes, void* recv);
};

}  // namespace dgc::detail
