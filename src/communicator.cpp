#include "dgc/communicator.h"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <mpi.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "dgc/error.h"
#include "stall_monitor.h"

namespace dgc {

namespace {

// Throws with the MPI function's name and MPI's own explanation; the location is the call site.
void check_mpi(int rc, const char* call, const char* file, int line) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  std::string explanation = "unknown MPI error";
  if (MPI_Error_string(rc, text, &length) == MPI_SUCCESS) explanation.assign(text, length);
  throw Error(detail::concat(call, " failed: ", explanation, " (error code ", rc, ")"), file, line);
}

#define DGC_MPI_CHECK(fn, ...) check_mpi(fn(__VA_ARGS__), #fn, __FILE__, __LINE__)

// A collective: numbered and marked in progress for the stall check while MPI blocks in it. Only
// the MPI call is marked, after the local checks, so a rank that rejects its arguments does not
// count a collective it never entered.
#define DGC_MPI_COLLECTIVE(impl, fn, ...)                      \
  do {                                                         \
    const detail::InFlight dgc_in_flight((impl).tracker, #fn); \
    check_mpi(fn(__VA_ARGS__), #fn, __FILE__, __LINE__);       \
  } while (false)

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

// MPI counts, displacements and root ranks are int: refuse rather than truncate.
int to_mpi_count(std::int64_t value, const char* call, const char* what) {
  DGC_CHECK(value >= 0, call, ": ", what, " must not be negative, got ", value);
  DGC_CHECK(value <= INT_MAX, call, ": ", what, " of ", value, " exceeds MPI's count limit of ",
            INT_MAX, " (MPI counts are int); split the buffer");
  return static_cast<int>(value);
}

void check_buffer(const void* data, std::int64_t bytes, const char* call) {
  DGC_CHECK(data != nullptr || bytes == 0, call, ": null buffer for ", bytes, " bytes");
}

void check_tensor(const torch::Tensor& tensor, const char* call) {
  DGC_CHECK(tensor.defined(), call, ": the tensor is undefined");
  DGC_CHECK(tensor.device().is_cpu(), call, ": the tensor must be on the CPU, got device ",
            tensor.device());
  DGC_CHECK(tensor.layout() == torch::kStrided, call,
            ": the tensor must be dense (strided), got layout ", tensor.layout());
  DGC_CHECK(tensor.is_contiguous(), call, ": the tensor must be contiguous, got sizes ",
            tensor.sizes(), " with strides ", tensor.strides(), "; call .contiguous() first");
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

// MPI has no half type: a 2-byte datatype and this operator stand in for it. Each partial sum
// is rounded to half, as a half-precision add would.
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

}  // namespace

struct Communicator::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm local = MPI_COMM_NULL;
  MPI_Datatype half_type = MPI_DATATYPE_NULL;  // any 2-byte element: float16 and bfloat16
  MPI_Op half_sum = MPI_OP_NULL;
  MPI_Op bfloat16_sum = MPI_OP_NULL;
  int rank = 0;
  int size = 1;
  int local_rank = 0;
  int local_size = 1;
  detail::CollectiveTracker tracker;
  std::unique_ptr<detail::StallMonitor> monitor;  // null where the check cannot run
  mutable std::mutex stall_mutex;
  StallCheckOptions stall_options;

  void setup(int thread_level, const Communicator& owner) {
    // A private duplicate keeps dgc's messages apart from the caller's, and lets errors return
    // instead of aborting without touching the caller's MPI_COMM_WORLD handler.
    DGC_MPI_CHECK(MPI_Comm_dup, MPI_COMM_WORLD, &comm);
    DGC_MPI_CHECK(MPI_Comm_set_errhandler, comm, MPI_ERRORS_RETURN);
    DGC_MPI_CHECK(MPI_Comm_rank, comm, &rank);
    DGC_MPI_CHECK(MPI_Comm_size, comm, &size);
    DGC_MPI_CHECK(MPI_Comm_split_type, comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local);
    DGC_MPI_CHECK(MPI_Comm_rank, local, &local_rank);
    DGC_MPI_CHECK(MPI_Comm_size, local, &local_size);
    DGC_MPI_CHECK(MPI_Comm_free, &local);
    DGC_MPI_CHECK(MPI_Type_contiguous, 2, MPI_BYTE, &half_type);
    DGC_MPI_CHECK(MPI_Type_commit, &half_type);
    DGC_MPI_CHECK(MPI_Op_create, &sum_halves, /*commute=*/1, &half_sum);
    DGC_MPI_CHECK(MPI_Op_create, &sum_bfloat16s, /*commute=*/1, &bfloat16_sum);
    // The stall monitor calls MPI from a thread of its own while this one blocks in a collective,
    // on a communicator of its own so that its messages never match the collectives'.
    if (size > 1 && thread_level == MPI_THREAD_MULTIPLE) {
      MPI_Comm monitor_comm = MPI_COMM_NULL;
      DGC_MPI_CHECK(MPI_Comm_dup, comm, &monitor_comm);
      DGC_MPI_CHECK(MPI_Comm_set_errhandler, monitor_comm, MPI_ERRORS_RETURN);
      monitor = std::make_unique<detail::StallMonitor>(
          monitor_comm, tracker, [&owner](const std::string& message) { owner.abort(message); });
      monitor->set_options(stall_options);
    }
  }

  // Errors are ignored: this runs in the destructor, and a failed free leaks a handle at worst.
  void release() noexcept {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (finalised) return;             // the caller finalised MPI first; the handles went with it
    if (monitor) monitor->shutdown();  // collective, like the destructor that calls this
    if (half_sum != MPI_OP_NULL) MPI_Op_free(&half_sum);
    if (bfloat16_sum != MPI_OP_NULL) MPI_Op_free(&bfloat16_sum);
    if (half_type != MPI_DATATYPE_NULL) MPI_Type_free(&half_type);
    if (local != MPI_COMM_NULL) MPI_Comm_free(&local);
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
  }

  // The one dtype table: which MPI datatype and sum carry each supported dtype.
  void reduction_for(torch::ScalarType dtype, MPI_Datatype* type, MPI_Op* op) const {
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
        *type = half_type;
        *op = half_sum;
        return;
      case torch::kBFloat16:
        *type = half_type;
        *op = bfloat16_sum;
        return;
      default:
        DGC_FAIL("allreduce: dtype ", dtype,
                 " is not supported; supported: Float (float32), Double (float64), Int (int32), "
                 "Long (int64), Half (float16), BFloat16");
    }
  }

  // Every rank's (bytes, dtype tag) pair, so that a bad size or a dtype mismatch on any rank is
  // seen, and rejected, by every rank alike instead of leaving the others in the collective.
  std::vector<std::int64_t> exchange_sizes(std::int64_t bytes, std::int64_t dtype_tag,
                                           const char* call) {
    std::int64_t mine[2] = {bytes, dtype_tag};
    std::vector<std::int64_t> all(2 * static_cast<std::size_t>(size));
    DGC_MPI_COLLECTIVE(*this, MPI_Allgather, mine, 2, MPI_INT64_T, all.data(), 2, MPI_INT64_T,
                       comm);
    std::int64_t total = 0;
    for (int r = 0; r < size; ++r) {
      const std::int64_t rank_bytes = all[2 * r];
      DGC_CHECK(rank_bytes >= 0 && rank_bytes <= INT_MAX, call, ": rank ", r, " sends ", rank_bytes,
                " bytes; the size must be in [0, ", INT_MAX, "] (MPI counts are int)");
      DGC_CHECK(all[2 * r + 1] == all[1], call,
                ": dtypes differ between ranks (rank 0: ", describe_tag(all[1]), ", rank ", r, ": ",
                describe_tag(all[2 * r + 1]), ")");
      total += rank_bytes;
    }
    DGC_CHECK(total <= INT_MAX, call, ": the ranks send ", total,
              " bytes in all, above MPI's displacement limit of ", INT_MAX,
              " (MPI displacements are int); split the buffer");
    return all;
  }

  static std::string describe_tag(std::int64_t tag) {
    if (tag < 0) return "raw bytes";
    return c10::toString(static_cast<torch::ScalarType>(tag));
  }

  // `sizes` comes from exchange_sizes, which has checked every count and the total.
  void allgatherv_bytes(const void* send, const std::vector<std::int64_t>& sizes, void* recv) {
    std::vector<int> counts(size), displacements(size);
    int offset = 0;
    for (int r = 0; r < size; ++r) {
      counts[r] = static_cast<int>(sizes[2 * r]);
      displacements[r] = offset;
      offset += counts[r];
    }
    DGC_MPI_COLLECTIVE(*this, MPI_Allgatherv, send, counts[rank], MPI_BYTE, recv, counts.data(),
                       displacements.data(), MPI_BYTE, comm);
  }
};

Communicator::Communicator() : impl_(std::make_unique<Impl>()) {
  // Before MPI is touched: a bad variable leaves MPI as it was.
  impl_->stall_options = stall_options_from_environment();
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
    impl_->setup(provided, *this);
  } catch (...) {
    impl_->release();
    release_mpi();
    throw;
  }
}

Communicator::~Communicator() {
  impl_->release();
  release_mpi();
}

int Communicator::rank() const { return impl_->rank; }
int Communicator::size() const { return impl_->size; }
int Communicator::local_rank() const { return impl_->local_rank; }
int Communicator::local_size() const { return impl_->local_size; }

void Communicator::allreduce(void* data, std::int64_t count, torch::ScalarType dtype, ReduceOp op) {
  const int n = to_mpi_count(count, "allreduce", "the element count");
  check_buffer(data, count, "allreduce");
  MPI_Datatype type;
  MPI_Op sum;
  impl_->reduction_for(dtype, &type, &sum);
  const bool integral = dtype == torch::kInt || dtype == torch::kLong;
  DGC_CHECK(op != ReduceOp::kAverage || !integral, "allreduce: kAverage is not defined for the ",
            "integer dtype ", dtype, " (it would truncate); use kSum and divide");
  DGC_MPI_COLLECTIVE(*impl_, MPI_Allreduce, MPI_IN_PLACE, data, n, type, sum, impl_->comm);
  if (op != ReduceOp::kAverage || impl_->size == 1) return;
  switch (dtype) {
    case torch::kFloat:
      return divide<float>(data, count, impl_->size);
    case torch::kDouble:
      return divide<double>(data, count, impl_->size);
    case torch::kHalf:
      return divide<c10::Half>(data, count, impl_->size);
    case torch::kBFloat16:
      return divide<c10::BFloat16>(data, count, impl_->size);
    default:
      DGC_FAIL("allreduce: no average for dtype ", dtype);  // unreachable: checked above
  }
}

void Communicator::allgather(const void* send, std::int64_t bytes_per_rank, void* recv) {
  const int n = to_mpi_count(bytes_per_rank, "allgather", "the byte size per rank");
  check_buffer(send, bytes_per_rank, "allgather");
  check_buffer(recv, bytes_per_rank, "allgather");
  DGC_MPI_COLLECTIVE(*impl_, MPI_Allgather, send, n, MPI_BYTE, recv, n, MPI_BYTE, impl_->comm);
}

void Communicator::allgatherv(const void* send, std::int64_t bytes,
                              std::vector<std::int64_t>& bytes_per_rank,
                              std::vector<std::uint8_t>& recv) {
  // Sizes are checked after the exchange, on every rank alike.
  const auto sizes = impl_->exchange_sizes(bytes, /*dtype_tag=*/-1, "allgatherv");
  check_buffer(send, bytes, "allgatherv");
  bytes_per_rank.resize(impl_->size);
  std::int64_t total = 0;
  for (int r = 0; r < impl_->size; ++r) {
    bytes_per_rank[r] = sizes[2 * r];
    total += bytes_per_rank[r];
  }
  recv.resize(static_cast<std::size_t>(total));
  impl_->allgatherv_bytes(send, sizes, recv.data());
}

void Communicator::broadcast(void* data, std::int64_t bytes, int root) {
  const int n = to_mpi_count(bytes, "broadcast", "the byte size");
  check_buffer(data, bytes, "broadcast");
  DGC_CHECK(root >= 0 && root < impl_->size, "broadcast: root ", root, " is not a rank of ",
            impl_->size);
  DGC_MPI_COLLECTIVE(*impl_, MPI_Bcast, data, n, MPI_BYTE, root, impl_->comm);
}

void Communicator::allreduce(torch::Tensor& tensor, ReduceOp op) {
  check_tensor(tensor, "allreduce");
  allreduce(tensor.data_ptr(), tensor.numel(), tensor.scalar_type(), op);
}

torch::Tensor Communicator::allgather(const torch::Tensor& tensor) {
  check_tensor(tensor, "allgather");
  auto result = torch::empty({impl_->size * tensor.numel()}, tensor.options());
  allgather(tensor.data_ptr(), static_cast<std::int64_t>(tensor.nbytes()), result.data_ptr());
  return result;
}

torch::Tensor Communicator::allgatherv(const torch::Tensor& tensor) {
  check_tensor(tensor, "allgatherv");
  const auto sizes =
      impl_->exchange_sizes(static_cast<std::int64_t>(tensor.nbytes()),
                            static_cast<std::int64_t>(tensor.scalar_type()), "allgatherv");
  std::int64_t total = 0;
  for (int r = 0; r < impl_->size; ++r) total += sizes[2 * r];
  auto result = torch::empty({total / tensor.element_size()}, tensor.options());
  impl_->allgatherv_bytes(tensor.data_ptr(), sizes, result.data_ptr());
  return result;
}

void Communicator::broadcast(torch::Tensor& tensor, int root) {
  check_tensor(tensor, "broadcast");
  broadcast(tensor.data_ptr(), static_cast<std::int64_t>(tensor.nbytes()), root);
}

void Communicator::barrier() { DGC_MPI_COLLECTIVE(*impl_, MPI_Barrier, impl_->comm); }

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
  std::fprintf(stderr, "dgc: rank %d: %s\n", impl_->rank, message.c_str());
  std::fflush(stderr);
  int finalised = 0;
  MPI_Finalized(&finalised);
  // MPI_COMM_WORLD, not the duplicate: the whole job must end, whatever the others are doing.
  if (!finalised) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace dgc
