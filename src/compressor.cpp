#include "dgc/compressor.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <climits>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <set>
#include <sstream>

#include "archive_read.h"
#include "dgc/clip.h"
#include "dgc/error.h"
#include "dgc/warmup.h"
#include "sparsify_kernel.h"
#include "wire_codec.h"

namespace dgc {

namespace {
const char* kDrawsKey = "dgc.sampling_draws";

void check_grad(const std::string& name, const torch::Tensor& grad, std::int64_t numel) {
  DGC_CHECK(grad.defined(), "gradient of '", name, "' is undefined");
  DGC_CHECK(grad.scalar_type() == torch::kFloat, "gradient of '", name, "' must be float32, got ",
            grad.scalar_type());
  DGC_CHECK(grad.device().is_cpu(), "gradient of '", name, "' must be on the CPU, got ",
            grad.device());
  DGC_CHECK(grad.numel() == numel, "gradient of '", name, "' has ", grad.numel(),
            " elements, the tensor has ", numel);
}

void check_wire_tensor(const std::string& name, const char* what, const torch::Tensor& t,
                       c10::ScalarType dtype) {
  DGC_CHECK(t.dim() == 1 && t.scalar_type() == dtype, what, " received for '", name,
            "' must be 1-D ", dtype, ", got ", t.scalar_type(), " of shape ", t.sizes());
}
}  // namespace

Compressor::Compressor(CompressorOptions options, MemoryOptions memory)
    : options_(std::move(options)), memory_(std::move(memory)) {
  validate(options_);
  wire_ = WireFormat{options_.fp16_values, options_.int32_indices, options_.bf16_values};
  ratio_ = compress_ratio_for_epoch(options_, 0);
}

Compressor::~Compressor() = default;
Compressor::Compressor(Compressor&&) noexcept = default;
Compressor& Compressor::operator=(Compressor&&) noexcept = default;

void Compressor::set_logger(Logger logger) { logger_ = std::move(logger); }

void Compressor::log(const std::string& message) const {
  if (logger_) logger_(message);
}

TensorId Compressor::add(const std::string& name, at::IntArrayRef shape) {
  Entry e;
  e.name = name;
  e.shape = shape.vec();
  e.numel = c10::multiply_integers(shape);
  // Section 1: only multi-dimensional tensors are sparsified (an empty one has nothing to send).
  e.compressible = shape.size() > 1 && e.numel > 0;
  DGC_CHECK(!(e.compressible && options_.int32_indices && e.numel > INT32_MAX), "tensor '", name,
            "' has ", e.numel, " elements, too many for int32_indices");
  if (e.compressible && ratio_ < 1.0) {
    e.plan = make_plan(e.numel, ratio_, effective_sample_ratio(options_));
  }
  // Throws on a repeated name, before anything is registered; its handles are the same as ours.
  const TensorId tensor = memory_.add(name, shape);
  entries_.push_back(std::move(e));
  ids_.emplace(name, tensor);
  return tensor;
}

void Compressor::add_parameters(
    const std::vector<std::pair<std::string, torch::Tensor>>& named_parameters) {
  for (const auto& [name, p] : named_parameters) add(name, p.sizes());
  log_plans();
}

bool Compressor::set_epoch(std::int64_t epoch) {
  const double ratio = compress_ratio_for_epoch(options_, epoch);
  if (ratio == ratio_) return false;
  ratio_ = ratio;
  std::ostringstream msg;
  msg << "update compress ratio: " << ratio;
  log(msg.str());
  replan();
  return true;
}

void Compressor::replan() {
  if (ratio_ >= 1.0) return;
  for (auto& e : entries_) {
    if (e.compressible) e.plan = make_plan(e.numel, ratio_, effective_sample_ratio(options_));
  }
  log(describe_plans());
}

TensorId Compressor::id(const std::string& name) const {
  auto it = ids_.find(name);
  DGC_CHECK(it != ids_.end(), "tensor '", name, "' is not registered with the compressor");
  return it->second;
}

const std::string& Compressor::name(TensorId tensor) const { return entry(tensor).name; }

const Compressor::Entry& Compressor::entry(TensorId tensor) const {
  DGC_CHECK(tensor < entries_.size(), "tensor handle ", tensor, " is not registered with the ",
            "compressor (", entries_.size(), " tensors)");
  return entries_[tensor];
}

bool Compressor::is_sparse(TensorId tensor) const {
  return ratio_ < 1.0 && entry(tensor).compressible;
}

const TensorPlan& Compressor::plan(TensorId tensor) const {
  DGC_CHECK(is_sparse(tensor), "tensor '", entry(tensor).name, "' is not compressed at ratio ",
            ratio_);
  return entry(tensor).plan;
}

detail::StepParams Compressor::prepare(TensorId tensor, const CompressJob& job) const {
  const std::string& name = entry(tensor).name;
  check_grad(name, job.grad, plan(tensor).numel);
  const MemoryOptions& mo = memory_.options();
  detail::StepParams params;
  params.momentum = static_cast<float>(mo.momentum);
  params.nesterov = mo.nesterov;
  params.momentum_masking = mo.momentum_masking;
  const auto& clip = mo.gradient_clipping;
  if (clip.needs_global_statistics()) {
    DGC_CHECK(job.global_square_mean >= 0,
              "clipping by global statistics needs the mean over ranks "
              "of sum(g^2) of '",
              name, "' (use DistributedOptimizer)");
  }
  // Computed in float like the original: sqrt of the allreduced float, then max_norm / (norm +
  // 1e-6) in float.
  const float global_norm = std::sqrt(job.global_square_mean);
  switch (clip.kind) {
    case GradientClipping::Kind::kNone:
      break;
    case GradientClipping::Kind::kNorm:
      params.grad_scale = clip_coefficient(job.grad, clip.max_norm, clip.norm_type);
      break;
    case GradientClipping::Kind::kValue:
      params.grad_clamp = static_cast<float>(clip.clip_value);
      break;
    case GradientClipping::Kind::kGlobalNorm:
      params.grad_scale = std::min(
          1.0f, static_cast<float>(clip.max_norm) / (global_norm + static_cast<float>(1e-6)));
      break;
    case GradientClipping::Kind::kGlobalValue:
      params.grad_clamp = global_norm;
      break;
  }
  params.strided_sample = options_.strided_sample;
  params.upper = options_.compress_upper_bound;
  params.lower = options_.compress_lower_bound;
  params.max_adaptation_iters = options_.max_adaptation_iters;
  params.resample = options_.resample;
  return params;
}

detail::Workspace& Compressor::workspace(int thread) {
  const auto needed = static_cast<std::size_t>(std::max(thread + 1, at::get_num_threads()));
  while (workspaces_.size() < needed) workspaces_.push_back(std::make_unique<detail::Workspace>());
  return *workspaces_[static_cast<std::size_t>(thread)];
}

std::int64_t Compressor::compress_into(const std::string& name, const torch::Tensor& grad,
                                       void* values, void* indices) {
  std::vector<CompressJob> jobs{{name, grad, values, indices, 0}};
  compress_batch(jobs);
  return jobs[0].count;
}

void Compressor::compress_batch(std::vector<CompressJob>& jobs) {
  struct Prepared {
    TensorId tensor;
    torch::Tensor grad;  // contiguous
    detail::StepParams params;
    std::uint64_t draw;
    bool non_finite = false;
  };
  std::vector<Prepared> prepared;
  prepared.reserve(jobs.size());
  std::set<TensorId> seen;  // two jobs on one tensor would update its memory concurrently
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const auto& job = jobs[j];
    const TensorId tensor = job.tensor != CompressJob::kByName ? job.tensor : id(job.name);
    const std::string& name = entry(tensor).name;
    DGC_CHECK(seen.insert(tensor).second, "tensor '", name, "' appears twice in one batch");
    DGC_CHECK(job.values != nullptr && job.indices != nullptr, "no output buffers for '", name,
              "'");
    auto params = prepare(tensor, job);
    const std::uint64_t draw = detail::mix64(options_.seed ^ detail::mix64(draws_ + j));
    prepared.push_back({tensor, job.grad.contiguous(), params, draw});
  }
  draws_ += jobs.size();

  const auto run = [&](std::size_t j, detail::Workspace& ws) {
    auto& job = jobs[j];
    auto& p = prepared[j];
    const auto result = detail::sparsify_step(
        p.grad.data_ptr<float>(), memory_.momentum(p.tensor).data_ptr<float>(),
        memory_.velocity(p.tensor).data_ptr<float>(), plan(p.tensor), p.params, p.draw, ws);
    p.non_finite = result.non_finite;
    job.count = static_cast<std::int64_t>(ws.selected.size());
    detail::encode(ws.values.data(), ws.selected.data(), job.count, job.raw ? WireFormat{} : wire_,
                   job.values, job.indices);
  };
  const int threads = at::get_num_threads();
  if (jobs.size() == 1 || threads == 1) {
    // One tensor at a time; the kernel parallelises within each.
    for (std::size_t j = 0; j < jobs.size(); ++j) run(j, workspace(0));
  } else {
    // Largest first, handed out one at a time, so that the threads finish together.
    std::vector<std::size_t> order(jobs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return prepared[a].grad.numel() > prepared[b].grad.numel();
    });
    workspace(threads - 1);
    std::atomic<std::size_t> next{0};
    at::parallel_for(0, threads, 1, [&](std::int64_t, std::int64_t) {
      detail::Workspace& ws = *workspaces_[static_cast<std::size_t>(at::get_thread_num())];
      for (std::size_t k; (k = next.fetch_add(1)) < order.size();) run(order[k], ws);
    });
  }

  const std::string* failed = nullptr;
  for (const auto& p : prepared) {
    if (!p.non_finite) continue;
    memory_.reset(p.tensor);
    if (failed == nullptr) failed = &entry(p.tensor).name;
  }
  DGC_CHECK(failed == nullptr, "a NaN or Inf entered the DGC memory of tensor '", *failed,
            "' (this rank's gradient diverged: a learning rate too high?)");
}

SparseGradient Compressor::compress(const std::string& name, const torch::Tensor& grad) {
  const std::int64_t capacity = plan(name).num_selects;
  auto values = torch::empty({capacity}, torch::TensorOptions().dtype(wire_.value_dtype()));
  auto indices = torch::empty({capacity}, torch::TensorOptions().dtype(wire_.index_dtype()));
  const std::int64_t count = compress_into(name, grad, values.data_ptr(), indices.data_ptr());
  return {values.narrow(0, 0, count), indices.narrow(0, 0, count)};
}

torch::Tensor Compressor::decompress(const std::string& name, const torch::Tensor& values,
                                     const torch::Tensor& indices, std::int64_t world_size) const {
  const Entry& e = entry(id(name));
  check_wire_tensor(name, "values", values, wire_.value_dtype());
  check_wire_tensor(name, "indices", indices, wire_.index_dtype());
  DGC_CHECK(values.numel() == indices.numel(), "received ", values.numel(), " values but ",
            indices.numel(), " indices for '", name, "'");
  auto out = torch::empty(e.shape, torch::kFloat);
  decompress_into(name, values.contiguous().data_ptr(), indices.contiguous().data_ptr(),
                  values.numel(), world_size, out.data_ptr<float>());
  return out;
}

void Compressor::decompress_into(const std::string& name, const void* values, const void* indices,
                                 std::int64_t count, std::int64_t world_size, float* out) const {
  const Entry& e = entry(id(name));
  detail::decode_average({WireSlice{values, indices, count}}, wire_, e.numel, world_size, e.name,
                         /*slices_are_ranks=*/false, out);
}

void Compressor::decompress_into(TensorId tensor, const std::vector<WireSlice>& slices,
                                 std::int64_t world_size, float* out) const {
  const Entry& e = entry(tensor);
  detail::decode_average(slices, wire_, e.numel, world_size, e.name, /*slices_are_ranks=*/true,
                         out);
}

torch::Tensor Compressor::compensate_dense(const std::string& name, const torch::Tensor& grad) {
  return memory_.compensate_dense(name, grad);
}

void Compressor::save(torch::serialize::OutputArchive& archive) const {
  memory_.save(archive);
  archive.write(kDrawsKey, torch::tensor(static_cast<std::int64_t>(draws_)), /*is_buffer=*/true);
}

void Compressor::load(torch::serialize::InputArchive& archive) {
  const torch::Tensor draws = detail::read_tensor(archive, kDrawsKey);
  DGC_CHECK(draws.numel() == 1 && draws.scalar_type() == torch::kLong, "'", kDrawsKey,
            "' in the archive is not one int64");
  memory_.load(archive);
  draws_ = static_cast<std::uint64_t>(draws.item<std::int64_t>());
}

std::string Compressor::describe_plans() const {
  std::ostringstream out;
  if (ratio_ >= 1.0) {
    out << "=> dgc compressor: ratio " << ratio_ << ", every tensor travels dense\n";
    return out.str();
  }
  out << "=> dgc compressor: ratio " << ratio_ << "\n";
  for (const Entry& e : entries_) {
    const std::string& name = e.name;
    if (!e.compressible) continue;
    const TensorPlan& p = e.plan;
    if (p.tiny) {
      out << "   warning: " << name << " with " << p.numel << " elements transmits "
          << p.num_selects << " gradient element(s)\n";
    }
    out << "   " << std::left << std::setw(25) << name << ": transmit " << p.num_selects << " / "
        << p.numel << " elements\n"
        << "   " << std::string(25, ' ') << "  threshold " << p.top_k_samples << " / "
        << p.num_samples << " samples "
        << (options_.strided_sample || p.num_samples == p.numel
                ? "at stride " + std::to_string(p.stride)
                : std::string("uniformly"))
        << "\n";
  }
  return out.str();
}

}  // namespace dgc
