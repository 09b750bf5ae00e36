// dgc::ProcessGroup: the collectives, on the world or on one of its node-level groups.
#include "dgc/process_group.h"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <mpi.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include <algorithm>
#include <chrono>
#include <climits>
#include <string>
#include <thread>

#include "dgc/error.h"
#include "dgc/timeline.h"
#include "process_group_state.h"

namespace dgc {

namespace detail {

void check_mpi(int rc, const char* call, const char* file, int line) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  std::string explanation = "unknown MPI error";
  if (MPI_Error_string(rc, text, &length) == MPI_SUCCESS) explanation.assign(text, length);
  throw Error(detail::concat(call, " failed: ", explanation, " (error code ", rc, ")"), file, line);
}

}  // namespace detail

namespace {

// Until `request` completes: MPI_Test at growing intervals, asleep in between
// (WaitPolicy::kSleep). Open MPI progresses the transfer only inside the tests, so the interval
// stays short: 10 us doubling to 250 us, well below what a slow link takes per round.
void wait_sleeping(MPI_Request& request, const char* call) {
  auto pause = std::chrono::microseconds(10);
  for (int done = 0;;) {
    detail::check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), call, __FILE__, __LINE__);
    if (done != 0) return;
    std::this_thread::sleep_for(pause);
    pause = std::min(2 * pause, std::chrono::microseconds(250));
  }
}

bool sleeps(const detail::GroupState& group) {
  return group.sleep_wait != nullptr && group.sleep_wait->load(std::memory_order_relaxed);
}

// A collective: numbered and marked in progress for the stall check while MPI blocks in it, and a
// span of the timeline. Only the MPI call is marked, after the local checks, so a rank that
// rejects its arguments does not count a collective it never entered. `fn` blocks; `nonblocking`
// is its nonblocking twin, for WaitPolicy::kSleep (the same arguments and a request).
#define DGC_MPI_COLLECTIVE(state, fn, nonblocking, ...)                                        \
  do {                                                                                         \
    const detail::InFlight dgc_in_flight(*(state).tracker, (state).level, #fn);                \
    const TimelineSpan dgc_span(#fn, "mpi");                                                   \
    if (sleeps(state)) {                                                                       \
      MPI_Request dgc_request = MPI_REQUEST_NULL;                                              \
      ::dgc::detail::check_mpi(nonblocking(__VA_ARGS__, &dgc_request), #nonblocking, __FILE__, \
                               __LINE__);                                                      \
      wait_sleeping(dgc_request, #nonblocking);                                                \
    } else {                                                                                   \
      ::dgc::detail::check_mpi(fn(__VA_ARGS__), #fn, __FILE__, __LINE__);                      \
    }                                                                                          \
  } while (false)

// MPI counts, displacements and root ranks are int: refuse rather than truncate.
int to_mpi_count(std::int64_t value, const detail::GroupState& group, const char* call,
                 const char* what) {
  DGC_CHECK(value >= 0, group.label, call, ": ", what, " must not be negative, got ", value);
  DGC_CHECK(value <= INT_MAX, group.label, call, ": ", what, " of ", value,
            " exceeds MPI's count limit of ", INT_MAX, " (MPI counts are int); split the buffer");
  return static_cast<int>(value);
}

void check_buffer(const void* data, std::int64_t bytes, const detail::GroupState& group,
                  const char* call) {
  DGC_CHECK(data != nullptr || bytes == 0, group.label, call, ": null buffer for ", bytes,
            " bytes");
}

void check_tensor(const torch::Tensor& tensor, const detail::GroupState& group, const char* call) {
  DGC_CHECK(tensor.defined(), group.label, call, ": the tensor is undefined");
  DGC_CHECK(tensor.device().is_cpu(), group.label, call,
            ": the tensor must be on the CPU, got device ", tensor.device());
  DGC_CHECK(tensor.layout() == torch::kStrided, group.label, call,
            ": the tensor must be dense (strided), got layout ", tensor.layout());
  DGC_CHECK(tensor.is_contiguous(), group.label, call,
            ": the tensor must be contiguous, got sizes ", tensor.sizes(), " with strides ",
            tensor.strides(), "; call .contiguous() first");
}

void sum_halves_portable(const c10::Half* a, c10::Half* b, int count) {
  for (int i = 0; i < count; ++i)
    b[i] = c10::Half(static_cast<float>(a[i]) + static_cast<float>(b[i]));
}

#if defined(__x86_64__)
// 8 conversions per instruction instead of c10::Half's bit manipulation per element: ~15x faster,
// bitwise the same (both round to nearest even).
__attribute__((target("avx,f16c"))) void sum_halves_f16c(const c10::Half* a, c10::Half* b,
                                                         int count) {
  int i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256 x = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    const __m256 y = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b + i),
                     _mm256_cvtps_ph(_mm256_add_ps(x, y), _MM_FROUND_TO_NEAREST_INT));
  }
  sum_halves_portable(a + i, b + i, count - i);
}
// F16C from cpuid itself: clang 14's __builtin_cpu_supports does not know "f16c" (the fuzz build).
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __builtin_cpu_supports("avx") && __get_cpuid(1, &eax, &ebx, &ecx, &edx) &&
         (ecx & bit_F16C) != 0;
}
const bool kCpuHasF16c = cpu_has_f16c();
#endif

// The half datatype's sum. Each partial sum is rounded to half, as a half-precision add would.
void sum_halves(void* in, void* inout, int* count, MPI_Datatype*) {
  const auto* a = static_cast<const c10::Half*>(in);
  auto* b = static_cast<c10::Half*>(inout);
#if defined(__x86_64__)
  if (kCpuHasF16c) return sum_halves_f16c(a, b, *count);
#endif
  sum_halves_portable(a, b, *count);
}

// bfloat16 likewise: each partial sum in float, rounded to bfloat16 (to nearest even, as
// c10::BFloat16 rounds).
void sum_bfloat16s(void* in, void* inout, int* count, MPI_Datatype*) {
  const auto* a = static_cast<const c10::BFloat16*>(in);
  auto* b = static_cast<c10::BFloat16*>(inout);
  for (int i = 0; i < *count; ++i) {
    b[i] = c10::BFloat16(static_cast<float>(a[i]) + static_cast<float>(b[i]));
  }
}

template <typename T>
void divide(void* data, std::int64_t count, int divisor) {
  auto* values = static_cast<T*>(data);
  for (std::int64_t i = 0; i < count; ++i) values[i] /= static_cast<T>(divisor);
}

// Dividing in half would round the divisor's reciprocal too; float keeps one rounding.
template <>
void divide<c10::Half>(void* data, std::int64_t count, int divisor) {
  auto* values = static_cast<c10::Half*>(data);
  for (std::int64_t i = 0; i < count; ++i) {
    values[i] = c10::Half(static_cast<float>(values[i]) / static_cast<float>(divisor));
  }
}
template <>
void divide<c10::BFloat16>(void* data, std::int64_t count, int divisor) {
  auto* values = static_cast<c10::BFloat16*>(data);
  for (std::int64_t i = 0; i < count; ++i) {
    values[i] = c10::BFloat16(static_cast<float>(values[i]) / static_cast<float>(divisor));
  }
}

std::string describe_tag(std::int64_t tag) {
  if (tag < 0) return "raw bytes";
  return c10::toString(static_cast<torch::ScalarType>(tag));
}

}  // namespace

namespace detail {

void HalfSum::create() {
  DGC_MPI_CHECK(MPI_Type_contiguous, 2, MPI_BYTE, &type);
  DGC_MPI_CHECK(MPI_Type_commit, &type);
  DGC_MPI_CHECK(MPI_Op_create, &sum_halves, /*commute=*/1, &op);
  DGC_MPI_CHECK(MPI_Op_create, &sum_bfloat16s, /*commute=*/1, &bfloat16_op);
}

void HalfSum::release() noexcept {
  if (op != MPI_OP_NULL) MPI_Op_free(&op);
  if (bfloat16_op != MPI_OP_NULL) MPI_Op_free(&bfloat16_op);
  if (type != MPI_DATATYPE_NULL) MPI_Type_free(&type);
}

void GroupState::reduction_for(torch::ScalarType dtype, MPI_Datatype* type, MPI_Op* op) const {
  *op = MPI_SUM;
  switch (dtype) {
    case torch::kFloat:
      *type = MPI_FLOAT;
      return;
    case torch::kDouble:
      *type = MPI_DOUBLE;
      return;
    case torch::kInt:
      *type = MPI_INT32_T;
      return;
    case torch::kLong:
      *type = MPI_INT64_T;
      return;
    case torch::kHalf:
      *type = half->type;
      *op = half->op;
      return;
    case torch::kBFloat16:
      *type = half->type;
      *op = half->bfloat16_op;
      return;
    default:
      DGC_FAIL(label, "allreduce: dtype ", dtype,
               " is not supported; supported: Float (float32), Double (float64), Int (int32), "
               "Long (int64), Half (float16), BFloat16");
  }
}

std::vector<std::int64_t> GroupState::exchange_sizes(std::int64_t bytes, std::int64_t dtype_tag,
                                                     const char* call) {
  std::int64_t mine[2] = {bytes, dtype_tag};
  std::vector<std::int64_t> all(2 * static_cast<std::size_t>(size));
  DGC_MPI_COLLECTIVE(*this, MPI_Allgather, MPI_Iallgather, mine, 2, MPI_INT64_T, all.data(), 2,
                     MPI_INT64_T, comm);
  std::int64_t total = 0;
  for (int r = 0; r < size; ++r) {
    const std::int64_t rank_bytes = all[2 * r];
    DGC_CHECK(rank_bytes >= 0 && rank_bytes <= INT_MAX, label, call, ": rank ", r, " sends ",
              rank_bytes, " bytes; the size must be in [0, ", INT_MAX, "] (MPI counts are int)");
    DGC_CHECK(all[2 * r + 1] == all[1], label, call,
              ": dtypes differ between ranks (rank 0: ", describe_tag(all[1]), ", rank ", r, ": ",
              describe_tag(all[2 * r + 1]), ")");
    total += rank_bytes;
  }
  DGC_CHECK(total <= INT_MAX, label, call, ": the ranks send ", total,
            " bytes in all, above MPI's displacement limit of ", INT_MAX,
            " (MPI displacements are int); split the buffer");
  return all;
}

void GroupState::allgatherv_bytes(const void* send, const std::vector<std::int64_t>& sizes,
                                  void* recv) {
  std::vector<int> counts(size), displacements(size);
  int offset = 0;
  for (int r = 0; r < size; ++r) {
    counts[r] = static_cast<int>(sizes[2 * r]);
    displacements[r] = offset;
    offset += counts[r];
  }
  DGC_MPI_COLLECTIVE(*this, MPI_Allgatherv, MPI_Iallgatherv, send, counts[rank], MPI_BYTE, recv,
                     counts.data(), displacements.data(), MPI_BYTE, comm);
}

}  // namespace detail

ProcessGroup::ProcessGroup(std::unique_ptr<detail::GroupState> state) : state_(std::move(state)) {}
ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return state_->rank; }
int ProcessGroup::size() const { return state_->size; }

void ProcessGroup::allreduce(void* data, std::int64_t count, torch::ScalarType dtype, ReduceOp op) {
  auto& g = *state_;
  const int n = to_mpi_count(count, g, "allreduce", "the element count");
  check_buffer(data, count, g, "allreduce");
  MPI_Datatype type;
  MPI_Op sum;
  g.reduction_for(dtype, &type, &sum);
  const bool integral = dtype == torch::kInt || dtype == torch::kLong;
  DGC_CHECK(op != ReduceOp::kAverage || !integral, g.label,
            "allreduce: kAverage is not defined for the integer dtype ", dtype,
            " (it would truncate); use kSum and divide");
  DGC_MPI_COLLECTIVE(g, MPI_Allreduce, MPI_Iallreduce, MPI_IN_PLACE, data, n, type, sum, g.comm);
  if (op != ReduceOp::kAverage || g.size == 1) return;
  switch (dtype) {
    case torch::kFloat:
      return divide<float>(data, count, g.size);
    case torch::kDouble:
      return divide<double>(data, count, g.size);
    case torch::kHalf:
      return divide<c10::Half>(data, count, g.size);
    case torch::kBFloat16:
      return divide<c10::BFloat16>(data, count, g.size);
    default:
      DGC_FAIL(g.label, "allreduce: no average for dtype ", dtype);  // unreachable: checked
  }
}

void ProcessGroup::allgather(const void* send, std::int64_t bytes_per_rank, void* recv) {
  auto& g = *state_;
  const int n = to_mpi_count(bytes_per_rank, g, "allgather", "the byte size per rank");
  check_buffer(send, bytes_per_rank, g, "allgather");
  check_buffer(recv, bytes_per_rank, g, "allgather");
  DGC_MPI_COLLECTIVE(g, MPI_Allgather, MPI_Iallgather, send, n, MPI_BYTE, recv, n, MPI_BYTE,
                     g.comm);
}

void ProcessGroup::allgatherv(const void* send, std::int64_t bytes,
                              std::vector<std::int64_t>& bytes_per_rank,
                              std::vector<std::uint8_t>& recv) {
  auto& g = *state_;
  // Sizes are checked after the exchange, on every rank alike.
  const auto sizes = g.exchange_sizes(bytes, /*dtype_tag=*/-1, "allgatherv");
  check_buffer(send, bytes, g, "allgatherv");
  bytes_per_rank.resize(g.size);
  std::int64_t total = 0;
  for (int r = 0; r < g.size; ++r) {
    bytes_per_rank[r] = sizes[2 * r];
    total += bytes_per_rank[r];
  }
  recv.resize(static_cast<std::size_t>(total));
  g.allgatherv_bytes(send, sizes, recv.data());
}

void ProcessGroup::alltoallv(const void* send, const std::vector<std::int64_t>& send_bytes,
                             std::vector<std::int64_t>& recv_bytes,
                             std::vector<std::uint8_t>& recv) {
  auto& g = *state_;
  DGC_CHECK(send_bytes.size() == static_cast<std::size_t>(g.size), g.label,
            "alltoallv: ", send_bytes.size(), " send sizes for ", g.size, " ranks");
  std::vector<int> send_counts(g.size), send_offsets(g.size);
  std::int64_t send_total = 0;
  for (int r = 0; r < g.size; ++r) {
    send_counts[r] = to_mpi_count(send_bytes[r], g, "alltoallv", "a part's byte size");
    send_offsets[r] = to_mpi_count(send_total, g, "alltoallv", "the send offset");
    send_total += send_bytes[r];
  }
  to_mpi_count(send_total, g, "alltoallv", "the send total");
  check_buffer(send, send_total, g, "alltoallv");
  recv_bytes.resize(g.size);
  DGC_MPI_COLLECTIVE(g, MPI_Alltoall, MPI_Ialltoall, send_bytes.data(), 1, MPI_INT64_T,
                     recv_bytes.data(), 1, MPI_INT64_T, g.comm);
  std::vector<int> recv_counts(g.size), recv_offsets(g.size);
  std::int64_t recv_total = 0;
  for (int r = 0; r < g.size; ++r) {
    // A peer's size is untrusted like anything else it sends.
    DGC_CHECK(recv_bytes[r] >= 0 && recv_bytes[r] <= INT_MAX, g.label, "alltoallv: rank ", r,
              " announces ", recv_bytes[r], " bytes");
    recv_counts[r] = static_cast<int>(recv_bytes[r]);
    recv_offsets[r] = to_mpi_count(recv_total, g, "alltoallv", "the receive offset");
    recv_total += recv_bytes[r];
  }
  to_mpi_count(recv_total, g, "alltoallv", "the receive total");
  recv.resize(static_cast<std::size_t>(recv_total));
  DGC_MPI_COLLECTIVE(g, MPI_Alltoallv, MPI_Ialltoallv, send, send_counts.data(),
                     send_offsets.data(), MPI_BYTE, recv.data(), recv_counts.data(),
                     recv_offsets.data(), MPI_BYTE, g.comm);
}

void ProcessGroup::broadcast(void* data, std::int64_t bytes, int root) {
  auto& g = *state_;
  const int n = to_mpi_count(bytes, g, "broadcast", "the byte size");
  check_buffer(data, bytes, g, "broadcast");
  DGC_CHECK(root >= 0 && root < g.size, g.label, "broadcast: root ", root, " is not a rank of ",
            g.size);
  DGC_MPI_COLLECTIVE(g, MPI_Bcast, MPI_Ibcast, data, n, MPI_BYTE, root, g.comm);
}

void ProcessGroup::allreduce(torch::Tensor& tensor, ReduceOp op) {
  check_tensor(tensor, *state_, "allreduce");
  allreduce(tensor.data_ptr(), tensor.numel(), tensor.scalar_type(), op);
}

torch::Tensor ProcessGroup::allgather(const torch::Tensor& tensor) {
  check_tensor(tensor, *state_, "allgather");
  auto result = torch::empty({state_->size * tensor.numel()}, tensor.options());
  allgather(tensor.data_ptr(), static_cast<std::int64_t>(tensor.nbytes()), result.data_ptr());
  return result;
}

torch::Tensor ProcessGroup::allgatherv(const torch::Tensor& tensor) {
  auto& g = *state_;
  check_tensor(tensor, g, "allgatherv");
  const auto sizes =
      g.exchange_sizes(static_cast<std::int64_t>(tensor.nbytes()),
                       static_cast<std::int64_t>(tensor.scalar_type()), "allgatherv");
  std::int64_t total = 0;
  for (int r = 0; r < g.size; ++r) total += sizes[2 * r];
  auto result = torch::empty({total / tensor.element_size()}, tensor.options());
  g.allgatherv_bytes(tensor.data_ptr(), sizes, result.data_ptr());
  return result;
}

void ProcessGroup::broadcast(torch::Tensor& tensor, int root) {
  check_tensor(tensor, *state_, "broadcast");
  broadcast(tensor.data_ptr(), static_cast<std::int64_t>(tensor.nbytes()), root);
}

void ProcessGroup::barrier() {
  DGC_MPI_COLLECTIVE(*state_, MPI_Barrier, MPI_Ibarrier, state_->comm);
}

}  // namespace dgc
