#include "dgc/distributed_optimizer.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <sstream>

#include "comm_thread.h"
#include "dgc/error.h"
#include "dgc/hooks/allreduce_hook.h"
#include "dgc/sgd.h"
#include "dgc/timeline.h"

namespace dgc {

namespace {

// Whether all of `n` floats are finite. Branch-free over the exponent bits, so the compiler
// vectorizes it: one read of the gradient, at memory speed.
bool all_finite(const float* values, std::int64_t n) {
  constexpr std::uint32_t kExponent = 0x7f800000u;
  std::uint32_t bad = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, values + i, 4);
    bad |= static_cast<std::uint32_t>((bits & kExponent) == kExponent);
  }
  return bad == 0;
}

std::string message_of(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return e.message();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}
}  // namespace

struct DistributedOptimizer::State {
  struct Param {
    std::string name;
    torch::Tensor tensor;
    std::size_t bucket = 0, position = 0;  // where its gradient sits in the buckets
    unsigned hook = 0;
    int passes = 0;  // gradients received this step
  };
  struct Bucket {
    std::vector<std::size_t> params;   // the hook's tensor handles: indices into `params`
    std::vector<torch::Tensor> grads;  // in the order of `params`
    std::size_t ready = 0;
    GradBucket view(std::size_t index) const { return {index, &params, &grads}; }
  };

  State(Communicator& c, torch::optim::Optimizer& o, std::unique_ptr<CommHook> h,
        DistributedOptions opts)
      : comm(c), optimizer(o), hook(std::move(h)), options(opts) {}

  void on_gradient(std::size_t index, const torch::Tensor& grad);
  void launch_ready_buckets();  // with `mutex` held
  void launch(std::size_t bucket);
  void reset_step();

  Communicator& comm;
  torch::optim::Optimizer& optimizer;
  std::unique_ptr<CommHook> hook;
  DistributedOptions options;
  std::vector<Param> params;
  std::vector<Bucket> buckets;
  std::int64_t dense_bytes = 0;

  std::mutex mutex;  // the step's progress, shared by the hooks and synchronize()
  std::size_t next_launch = 0;
  // synchronize() ran and no gradient arrived since: step() must not exchange again (the
  // Horovod pattern synchronize(), clip .grad, step()).
  bool synchronized = false;
  TrafficStats traffic;  // written by the communication thread until synchronize() waits
  TrafficStats last_traffic;
  // Last: destroyed first, finishing its queue while everything it uses still exists.
  std::unique_ptr<detail::CommThread> thread;
};

void DistributedOptimizer::State::on_gradient(std::size_t index, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex);
  Param& p = params[index];
  DGC_CHECK(p.passes < options.backward_passes_per_step, "parameter '", p.name,
            "' received more than backward_passes_per_step = ", options.backward_passes_per_step,
            " gradients before step() or synchronize(); raise backward_passes_per_step to "
            "accumulate more passes locally");
  synchronized = false;
  auto& slot = buckets[p.bucket].grads[p.position];
  // Out of place: autograd still owns `grad` (it becomes or is added to .grad after this hook).
  slot = p.passes == 0 ? grad.contiguous() : slot + grad;
  if (++p.passes < options.backward_passes_per_step) return;
  if (++buckets[p.bucket].ready == buckets[p.bucket].params.size() && options.overlap) {
    launch_ready_buckets();
  }
}

void DistributedOptimizer::State::launch_ready_buckets() {
  // Strictly in bucket order: that order is what keeps every rank's collectives matched.
  while (next_launch < buckets.size() &&
         buckets[next_launch].ready == buckets[next_launch].params.size()) {
    launch(next_launch++);
  }
}

void DistributedOptimizer::State::launch(std::size_t b) {
  thread->submit([this, b] {
    const TimelineSpan span("bucket", "exchange", "bucket", static_cast<std::int64_t>(b));
    hook->run(buckets[b].view(b), comm, traffic);
  });
}

void DistributedOptimizer::State::reset_step() {
  std::lock_guard<std::mutex> lock(mutex);
  for (auto& p : params) p.passes = 0;
  for (auto& bucket : buckets) {
    bucket.ready = 0;
    for (auto& g : bucket.grads) g = torch::Tensor();
  }
  next_launch = 0;
  traffic = TrafficStats{};
}

namespace {

// Under DGC the momentum lives in the compressor's memory (momentum correction, ALGORITHM.md
// section 3): an inner SGD with momentum of its own would apply it a second time to the sparse,
// already momentum-corrected update, silently changing the algorithm. DGC-SGD takes the same
// SGDOptions and ignores their momentum, so it is the inner optimizer to use.
void check_no_second_momentum(torch::optim::Optimizer& optimizer) {
  if (dynamic_cast<DGCSGD*>(&optimizer) != nullptr) return;
  if (dynamic_cast<torch::optim::SGD*>(&optimizer) == nullptr) return;
  for (std::size_t g = 0; g < optimizer.param_groups().size(); ++g) {
    const auto& o =
        static_cast<const torch::optim::SGDOptions&>(optimizer.param_groups()[g].options());
    DGC_CHECK(o.momentum() == 0.0,
              "DGC applies the momentum in its memory (momentum correction); "
              "the inner torch::optim::SGD's momentum ",
              o.momentum(), " (parameter group ", g,
              ") would apply it twice: use dgc::DGCSGD, or momentum 0 (set the momentum in "
              "MemoryOptions)");
  }
}

}  // namespace

DistributedOptimizer::DistributedOptimizer(Communicator& comm, torch::optim::Optimizer& optimizer,
                                           NamedParameters named_parameters,
                                           DistributedOptions options)
    : DistributedOptimizer(comm, optimizer, std::move(named_parameters),
                           std::make_unique<AllreduceHook>(), options) {}

DistributedOptimizer::DistributedOptimizer(Communicator& comm, torch::optim::Optimizer& optimizer,
                                           NamedParameters named_parameters,
                                           std::unique_ptr<CommHook> hook,
                                           DistributedOptions options)
    : state_(std::make_unique<State>(comm, optimizer, std::move(hook), options)) {
  DGC_CHECK(state_->hook != nullptr, "DistributedOptimizer needs a comm hook, got none");
  if (state_->hook->applies_momentum()) check_no_second_momentum(optimizer);
  DGC_CHECK(options.backward_passes_per_step >= 1, "backward_passes_per_step must be >= 1, got ",
            options.backward_passes_per_step);
  DGC_CHECK(options.bucket_bytes > 0, "bucket_bytes must be > 0, got ", options.bucket_bytes);
  const std::size_t cores_listed = options.comm_thread_cpus.size();
  DGC_CHECK(cores_listed <= 1 || cores_listed == static_cast<std::size_t>(comm.local_size()),
            "comm_thread_cpus lists ", cores_listed, " cores, but rank ", comm.rank(),
            "'s machine runs ", comm.local_size(),
            " ranks: list one core for each, or one for all");
  State& s = *state_;
  std::vector<HookTensor> hook_tensors;
  for (auto& [name, tensor] : named_parameters) {
    DGC_CHECK(tensor.defined() && tensor.scalar_type() == torch::kFloat &&
                  tensor.device().is_cpu() && tensor.is_contiguous(),
              "parameter '", name, "' must be a contiguous float32 CPU tensor");
    // Frozen parameters have no gradient to exchange.
    if (!tensor.requires_grad()) continue;
    s.params.push_back({name, tensor});
    s.dense_bytes += tensor.numel() * 4;
    hook_tensors.push_back({name, tensor.sizes().vec(), tensor.numel()});
  }
  // Buckets in reverse registration order, the order in which backward produces gradients.
  std::int64_t bucket_bytes = 0;
  for (std::size_t i = s.params.size(); i-- > 0;) {
    const std::int64_t bytes = s.params[i].tensor.numel() * 4;
    if (s.buckets.empty() || bucket_bytes + bytes > options.bucket_bytes) {
      s.buckets.emplace_back();
      bucket_bytes = 0;
    }
    bucket_bytes += bytes;
    auto& bucket = s.buckets.back();
    s.params[i].bucket = s.buckets.size() - 1;
    s.params[i].position = bucket.params.size();
    bucket.params.push_back(i);
    bucket.grads.emplace_back();
  }
  std::vector<std::vector<std::size_t>> hook_buckets;
  for (const auto& bucket : s.buckets) hook_buckets.push_back(bucket.params);
  s.hook->prepare(hook_tensors, hook_buckets, comm);
  const FailurePolicy policy = options.failure_policy;
  s.thread = std::make_unique<detail::CommThread>([&comm, policy](std::exception_ptr error) {
    // The other ranks would wait for this one forever: end the job with its message.
    if (policy == FailurePolicy::kAbortJob && comm.size() > 1) {
      comm.abort(message_of(error) +
                 "; the job ends here (the other ranks cannot go on without this one)");
    }
  });
  const auto& cpus = options.comm_thread_cpus;
  if (!cpus.empty()) s.thread->pin_to_cpu(cpus[cpus.size() == 1 ? 0 : comm.local_rank()]);
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    State* state = state_.get();
    s.params[i].hook = s.params[i].tensor.register_hook(
        [state, i](const torch::Tensor& grad) { state->on_gradient(i, grad); });
  }
}

DistributedOptimizer::~DistributedOptimizer() {
  for (auto& p : state_->params) p.tensor.remove_hook(p.hook);
}

void DistributedOptimizer::synchronize() {
  State& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    // Parameters that got fewer passes keep what they have; those that got none send zeros.
    for (std::size_t b = s.next_launch; b < s.buckets.size(); ++b) {
      auto& bucket = s.buckets[b];
      for (std::size_t j = 0; j < bucket.params.size(); ++j) {
        auto& grad = bucket.grads[j];
        if (!grad.defined()) grad = torch::zeros_like(s.params[bucket.params[j]].tensor);
      }
      bucket.ready = bucket.params.size();
    }
    s.launch_ready_buckets();
  }
  struct ResetOnExit {
    State& s;
    ~ResetOnExit() { s.reset_step(); }
  } reset{s};
  {
    const TimelineSpan span("wait", "exchange");
    s.thread->wait();
  }
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (std::size_t b = 0; b < s.buckets.size(); ++b) {
    const auto& bucket = s.buckets[b];
    out.clear();
    for (std::size_t i : bucket.params) {
      auto& tensor = s.params[i].tensor;
      torch::Tensor& grad = tensor.mutable_grad();
      if (!grad.defined() || !grad.is_contiguous() || grad.scalar_type() != torch::kFloat ||
          grad.sizes() != tensor.sizes()) {
        grad = torch::empty_like(tensor, torch::MemoryFormat::Contiguous);
      }
      out.push_back(grad);
    }
    {
      const TimelineSpan span("finish", "exchange", "bucket", static_cast<std::int64_t>(b));
      s.hook->finish(bucket.view(b), out);
    }
    if (!s.options.check_finite) continue;
    // Every rank holds the same averaged gradients, so every rank stops here alike.
    for (std::size_t j = 0; j < out.size(); ++j) {
      DGC_CHECK(all_finite(out[j].data_ptr<float>(), out[j].numel()), "the averaged gradient of '",
                s.params[bucket.params[j]].name,
                "' holds a NaN or an infinity (the training diverged: a learning rate too high?); "
                "the step is not applied");
    }
  }
  s.last_traffic = s.traffic;
  s.last_traffic.dense_bytes = s.dense_bytes;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.synchronized = true;
}

void DistributedOptimizer::step() {
  State& s = *state_;
  bool synchronized;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    synchronized = s.synchronized;
  }
  if (!synchronized) synchronize();
  {
    const TimelineSpan span("optimizer", "train");
    s.optimizer.step();
  }
  std::lock_guard<std::mutex> lock(s.mutex);
  s.synchronized = false;  // the next step() exchanges again
}

void DistributedOptimizer::zero_grad() { state_->optimizer.zero_grad(); }

bool DistributedOptimizer::set_epoch(std::int64_t epoch) {
  State& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (const auto& p : s.params) {
      DGC_CHECK(p.passes == 0, "set_epoch() during a step: parameter '", p.name,
                "' has gradients not yet exchanged; call it before backward or after step()");
    }
  }
  return s.hook->set_epoch(epoch);
}

void DistributedOptimizer::broadcast_parameters(int root) {
  std::vector<torch::Tensor> tensors;
  for (const auto& p : state_->params) tensors.push_back(p.tensor);
  broadcast_tensors(tensors, root);
}

void DistributedOptimizer::broadcast_tensors(const std::vector<torch::Tensor>& tensors, int root) {
  State& s = *state_;
  DGC_CHECK(root >= 0 && root < s.comm.size(), "broadcast: root ", root, " is not a rank of ",
            s.comm.size());
  for (const auto& t : tensors) {
    DGC_CHECK(t.defined() && t.device().is_cpu() && t.is_contiguous(),
              "broadcast needs contiguous CPU tensors");
  }
  s.thread->run([&] {
    // Each rank sizes its own buffers: check that the root sends what every rank can hold.
    // The third field tells apart lists with the same count and total but other sizes.
    std::int64_t shape[3] = {static_cast<std::int64_t>(tensors.size()), 0, 0};
    for (const auto& t : tensors) {
      shape[1] += static_cast<std::int64_t>(t.nbytes());
      shape[2] = shape[2] * 1000003 + static_cast<std::int64_t>(t.nbytes());
    }
    std::vector<std::int64_t> all(3 * static_cast<std::size_t>(s.comm.size()));
    s.comm.allgather(shape, sizeof shape, all.data());
    for (int r = 0; r < s.comm.size(); ++r) {
      DGC_CHECK(std::equal(all.begin() + 3 * root, all.begin() + 3 * root + 3, all.begin() + 3 * r),
                "broadcast: rank ", r, " has ", all[3 * r], " tensor(s) of ", all[3 * r + 1],
                " bytes in all, the root (rank ", root, ") ", all[3 * root], " of ",
                all[3 * root + 1], "; every rank must pass the same tensors in the same order");
    }
    torch::NoGradGuard no_grad;
    for (const auto& t : tensors) s.comm.broadcast(t.data_ptr(), t.nbytes(), root);
  });
}

void DistributedOptimizer::broadcast_optimizer_state(int root) {
  State& s = *state_;
  auto& groups = s.optimizer.param_groups();
  std::string bytes;
  if (s.comm.rank() == root) {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive state;
    s.optimizer.save(state);
    archive.write("state", state);
    // libtorch's Optimizer::load restores the per-parameter state only, not the groups' options
    // (learning rate, momentum, ...): those travel separately.
    for (std::size_t g = 0; g < groups.size(); ++g) {
      torch::serialize::OutputArchive options;
      groups[g].options().serialize(options);
      archive.write("group." + std::to_string(g), options);
    }
    std::ostringstream out;
    archive.save_to(out);
    bytes = out.str();
  }
  s.thread->run([&] {
    auto size = static_cast<std::int64_t>(bytes.size());
    s.comm.broadcast(&size, sizeof size, root);
    bytes.resize(static_cast<std::size_t>(size));
    s.comm.broadcast(bytes.data(), size, root);
  });
  if (s.comm.rank() == root) return;
  torch::serialize::InputArchive archive;
  std::istringstream in(bytes);
  archive.load_from(in);
  torch::serialize::InputArchive state;
  archive.read("state", state);
  s.optimizer.load(state);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    torch::serialize::InputArchive options;
    archive.read("group." + std::to_string(g), options);
    groups[g].options().serialize(options);
  }
}

const TrafficStats& DistributedOptimizer::last_step_traffic() const { return state_->last_traffic; }

CommHook& DistributedOptimizer::hook() { return *state_->hook; }

Communicator& DistributedOptimizer::communicator() { return state_->comm; }

}  // namespace dgc
