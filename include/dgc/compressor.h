// The DGC compressor: the local half of Deep Gradient Compression (ALGORITHM.md sections 2-6).
//
// Register every parameter once (add / add_parameters); tensors with more than one dimension are
// compressed, the others travel dense. Each step, for a compressed tensor, compress() updates its
// memory (momentum correction, local accumulation), selects the entries whose |v| reaches a
// threshold estimated from a sample, and takes what it returns out of the residual; after the
// exchange, decompress() turns every rank's (values, indices) into the averaged gradient. Dense
// tensors are allreduce-averaged by the caller and passed to compensate_dense().
//
// Call set_epoch() before each epoch's first step (sparsity warm-up). The same calls must happen
// in the same order on every rank, but nothing here communicates. Not thread-safe: one thread at
// a time. The fused kernel uses at::get_num_threads() threads; its result does not depend on it.
#pragma once

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dgc/export.h"
#include "dgc/memory.h"
#include "dgc/options.h"
#include "dgc/plan.h"
#include "dgc/wire.h"

namespace dgc {

namespace detail {
struct StepParams;
struct Workspace;
}  // namespace detail

// A registered tensor's handle: its registration order (0, 1, ...), fixed for the compressor's
// life. The calls taking a handle find the tensor's state without a name lookup.
using TensorId = std::size_t;

// One compressed tensor as it leaves this rank: 1-D values and indices in the wire dtypes.
struct SparseGradient {
  torch::Tensor values;
  torch::Tensor indices;
};

// One tensor of Compressor::compress_batch: its gradient and caller-owned wire buffers of
// capacity plan(name).num_selects; `count` receives the number of entries written. The tensor is
// `tensor` when set, otherwise the one called `name`.
struct CompressJob {
  static constexpr TensorId kByName = static_cast<TensorId>(-1);
  std::string name;
  torch::Tensor grad;
  void* values = nullptr;
  void* indices = nullptr;
  std::int64_t count = 0;
  // Global clipping kinds only: the mean over ranks of this gradient's sum(g^2), in float32
  // like the original's allreduce.
  float global_square_mean = -1.0f;
  TensorId tensor = kByName;
  // Values as float32 and indices as int64 whatever the wire format: for exchanges that encode
  // the message themselves (include/dgc/wire.h, encoded blocks).
  bool raw = false;
};

class DGC_EXPORT Compressor {
 public:
  using Logger = std::function<void(const std::string&)>;

  // Throws dgc::Error naming the first invalid setting.
  explicit Compressor(CompressorOptions options = {}, MemoryOptions memory = {});
  ~Compressor();
  Compressor(Compressor&&) noexcept;
  Compressor& operator=(Compressor&&) noexcept;

  // Where plans, ratio changes and warnings go (rank 0 prints them; others pass nothing).
  void set_logger(Logger logger);

  // Registers one tensor and returns its handle; it is compressed when it has more than one
  // dimension.
  TensorId add(const std::string& name, at::IntArrayRef shape);
  void add_parameters(const std::vector<std::pair<std::string, torch::Tensor>>& named_parameters);

  // Applies the warm-up schedule for `epoch`; returns true when the ratio changed (the plans
  // are then recomputed and logged).
  bool set_epoch(std::int64_t epoch);
  // The ratio in force; >= 1 means every tensor travels dense.
  double compress_ratio() const { return ratio_; }

  // The handle of a registered tensor (dgc::Error naming an unknown one), and back.
  TensorId id(const std::string& name) const;
  const std::string& name(TensorId tensor) const;
  std::size_t size() const { return entries_.size(); }

  // True when the tensor goes through compress()/decompress() at the current ratio.
  bool is_sparse(const std::string& name) const { return is_sparse(id(name)); }
  bool is_sparse(TensorId tensor) const;
  // The plan of a sparse tensor at the current ratio.
  const TensorPlan& plan(const std::string& name) const { return plan(id(name)); }
  const TensorPlan& plan(TensorId tensor) const;
  const WireFormat& wire_format() const { return wire_; }

  // Local step of a sparse tensor: returns at most plan(name).num_selects entries, indices
  // ascending, in the wire dtypes. `grad` (float32, the tensor's numel) is not modified.
  // A NaN or Inf reaching the memory resets that tensor's memory and throws dgc::Error naming it.
  SparseGradient compress(const std::string& name, const torch::Tensor& grad);
  // The same into caller-owned wire buffers of capacity plan(name).num_selects; returns the
  // number of entries written.
  std::int64_t compress_into(const std::string& name, const torch::Tensor& grad, void* values,
                             void* indices);
  // Several tensors at once (a bucket, or a whole step), with the threads spread over the
  // tensors instead of within each: far fewer synchronisations, and each tensor's selection
  // runs beside the others. Results are those of compress_into on each job in order. Every job
  // is checked before any memory changes. If NaN or Inf reaches some tensors' memory, the other
  // jobs are still done, those memories are reset, and dgc::Error names the first such tensor.
  void compress_batch(std::vector<CompressJob>& jobs);

  // Sums the gathered (values, indices) of all ranks into a zeroed gradient and divides by
  // world_size (section 5). values/indices are 1-D in the wire dtypes, of equal length. Every
  // index is checked against the tensor's size before anything is written.
  torch::Tensor decompress(const std::string& name, const torch::Tensor& values,
                           const torch::Tensor& indices, std::int64_t world_size) const;
  // The same from raw wire buffers of `count` entries into `out` (numel floats).
  void decompress_into(const std::string& name, const void* values, const void* indices,
                       std::int64_t count, std::int64_t world_size, float* out) const;
  // The same from every rank's slice of a gathered message, in rank order (slice r is rank
  // r's): a negative count or an out-of-range index is a dgc::Error naming the rank.
  void decompress_into(TensorId tensor, const std::vector<WireSlice>& slices,
                       std::int64_t world_size, float* out) const;
  void decompress_into(const std::string& name, const std::vector<WireSlice>& slices,
                       std::int64_t world_size, float* out) const {
    decompress_into(id(name), slices, world_size, out);
  }

  // Dense path: momentum applied to the allreduce-averaged gradient (see Memory).
  torch::Tensor compensate_dense(const std::string& name, const torch::Tensor& grad);

  Memory& memory() { return memory_; }
  const Memory& memory() const { return memory_; }
  const CompressorOptions& options() const { return options_; }

  // Memory state plus the sampling stream's position, for exact resume.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

  // One line per sparse tensor: "name: transmit k / n elements ... threshold t / s samples ...".
  std::string describe_plans() const;
  // Sends describe_plans() to the logger (add_parameters does it after registering).
  void log_plans() const { log(describe_plans()); }

 private:
  struct Entry {
    std::string name;
    std::vector<std::int64_t> shape;
    std::int64_t numel = 0;
    bool compressible = false;
    TensorPlan plan;
  };
  const Entry& entry(TensorId tensor) const;
  // Checks a job's gradient and fills the kernel's parameters for it.
  detail::StepParams prepare(TensorId tensor, const CompressJob& job) const;
  // The workspace of OpenMP/ATen thread `thread`.
  detail::Workspace& workspace(int thread);
  void replan();
  void log(const std::string& message) const;

  CompressorOptions options_;
  WireFormat wire_;
  Memory memory_;
  double ratio_;
  std::uint64_t draws_ = 0;     // position in the sampling stream
  std::vector<Entry> entries_;  // by handle
  std::map<std::string, TensorId> ids_;
  std::vector<std::unique_ptr<detail::Workspace>> workspaces_;  // one per thread
  Logger logger_;
};

}  // namespace dgc
