// dgc-bench-exchange: how fast a step's gradients cross the ranks (issue 3), run under mpirun.
//
// Part 1, the exchange of ResNet-50's gradients (161 tensors, 102 MB as float32). Each step a
// backward hands a fresh random gradient per tensor to DistributedOptimizer's hooks (untimed),
// then synchronize() alone is timed with overlap off: compression, packing, the collectives and
// decoding. Modes: every comm hook: dense allreduce, dense fp16 and bf16 (Horovod's
// Compression.fp16, PyTorch's compress hooks), PowerSGD at rank 4 from the first step, DGC in the
// original's raw slots (fp32 values, int64 indices), encoded with fp32 and fp16 values,
// hierarchical, reduce-scatter and auto (ratio 0.001, sample ratio 0.01; nodes from
// DGC_EMULATED_NODE_SIZE or the machines). Also the payload of one step (TrafficStats), the part
// of it that left the node, the compression ratio dense_bytes / bytes_sent, and the cost model's
// prediction of the collectives with the links measured at the start
// (include/dgc/exchange_cost.h).
//
// Part 2, overlap: full training steps (zero_grad, forward, backward, step) of an MLP whose
// backward takes real time, with buckets launched from the hooks during backward (overlap on)
// against all of them after backward (overlap off), dense and DGC; and the same step with no
// exchange at all, the compute the exchange adds to.
//
// Google Benchmark cannot run under mpirun (each rank would choose its own iteration count and
// the collectives would deadlock), so every rank runs the same fixed number of steps. The
// variants take turns step by step, so the machine's drift hits all of them alike. Ranks start
// each timed step together (a barrier), a step counts at its slowest rank's time, and the median
// over the timed steps is reported, with the page faults taken during the steps (fresh pages are
// expensive on the development VM). Only rank 0 prints. Run it with bench/exchange.sh (each part
// in a process of its own, see there), or:
//   OMP_NUM_THREADS=1 mpirun -np 2 --mca pml ob1 --mca btl tcp,self dgc-bench-exchange
//       [--only exchange|overlap] [--warmup N] [--steps N] [--overlap-warmup N]
//       [--overlap-steps N] [--threads N]
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/compressor.h"
#include "dgc/distributed_optimizer.h"
#include "dgc/error.h"
#include "dgc/exchange_cost.h"
#include "dgc/hooks/allreduce_hook.h"
#include "dgc/hooks/dgc_auto_hook.h"
#include "dgc/hooks/dgc_hierarchical_hook.h"
#include "dgc/hooks/dgc_hook.h"
#include "dgc/hooks/dgc_reduce_scatter_hook.h"
#include "dgc/hooks/powersgd_hook.h"
#include "dgc/sgd.h"
#include "resnet50_shapes.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Settings {
  int warmup = 3;  // untimed steps per mode before the timed ones (allocations, page faults)
  int steps = 25;
  int overlap_warmup = 3;
  int overlap_steps = 40;
  bool exchange = true;
  bool overlap = true;
  int threads = 1;  // per rank: 2 ranks share this machine's 2 cores
};

Settings parse(int argc, char** argv) {
  Settings s;
  const auto number = [&](int& i) {
    DGC_CHECK(i + 1 < argc, argv[i], " needs a value");
    const int value = std::atoi(argv[++i]);
    DGC_CHECK(value >= 0, argv[i - 1], " must be >= 0, got ", argv[i]);
    return value;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--warmup") {
      s.warmup = number(i);
    } else if (arg == "--steps") {
      s.steps = number(i);
    } else if (arg == "--overlap-warmup") {
      s.overlap_warmup = number(i);
    } else if (arg == "--overlap-steps") {
      s.overlap_steps = number(i);
    } else if (arg == "--threads") {
      s.threads = std::max(1, number(i));
    } else if (arg == "--only") {
      DGC_CHECK(i + 1 < argc, "--only needs a value: exchange or overlap");
      const std::string part = argv[++i];
      DGC_CHECK(part == "exchange" || part == "overlap", "--only takes exchange or overlap, got ",
                part);
      s.exchange = part == "exchange";
      s.overlap = part == "overlap";
    } else {
      DGC_FAIL("unknown argument ", arg,
               "; usage: dgc-bench-exchange [--only exchange|overlap] [--warmup N] [--steps N] "
               "[--overlap-warmup N] [--overlap-steps N] [--threads N]");
    }
  }
  DGC_CHECK(s.steps > 0 && s.overlap_steps > 0, "--steps and --overlap-steps must be > 0");
  return s;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Minor page faults of this process so far, all threads. Reported beside the times because a
// fresh page is expensive on this VM: a step that maps a new 25 MB buffer (6,100 faults) was
// measured 150 ms slower than the same step reusing memory.
std::int64_t minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// One timed step: its slowest rank's time, and the most page faults a rank took during it.
struct Sample {
  double seconds = 0;
  double faults = 0;
};

// Ranks start each timed region together: otherwise a rank that arrives early counts its wait
// for the others as exchange time. A step lasts until its slowest rank is done; Communicator
// reduces only by sum or average, so every rank's numbers are gathered and the largest taken.
template <typename Fn>
Sample timed_step(dgc::Communicator& comm, Fn&& fn) {
  comm.barrier();
  const std::int64_t faults = minor_faults();
  const auto start = Clock::now();
  fn();
  const double seconds = seconds_since(start);
  const auto local =
      torch::tensor({seconds, static_cast<double>(minor_faults() - faults)}, torch::kDouble);
  const auto all = comm.allgather(local).view({comm.size(), 2});
  return {all.select(1, 0).max().item<double>(), all.select(1, 1).max().item<double>()};
}

// The timed steps of one mode.
struct Timings {
  std::vector<double> seconds;
  double faults = 0;

  void add(const Sample& sample) {
    seconds.push_back(sample.seconds);
    faults += sample.faults;
  }
  double median_ms() const {
    auto sorted = seconds;
    std::sort(sorted.begin(), sorted.end());
    const std::size_t n = sorted.size();
    return 1e3 * (n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2);
  }
  double min_ms() const { return 1e3 * *std::min_element(seconds.begin(), seconds.end()); }
  double max_ms() const { return 1e3 * *std::max_element(seconds.begin(), seconds.end()); }
  double faults_per_step() const { return faults / static_cast<double>(seconds.size()); }
};

// The modes take turns, one step each, and each round starts one mode further: drift during the
// run, and whatever one mode leaves behind for the next, fall on every mode alike.
template <typename Run, typename Fn>
void in_turn(const std::vector<std::unique_ptr<Run>>& runs, int round, Fn&& fn) {
  for (std::size_t k = 0; k < runs.size(); ++k) {
    fn(*runs[(static_cast<std::size_t>(round) + k) % runs.size()]);
  }
}

dgc::CompressorOptions dgc_options(bool fp16) {
  dgc::CompressorOptions o;
  o.compress_ratio = 0.001;
  o.sample_ratio = 0.01;
  o.fp16_values = fp16;
  return o;
}

// The exchanges measured, by the name printed: every built-in comm hook.
enum class Hook {
  kDense,
  kFp16,
  kBf16,
  kPowerSgd,
  kDgcRaw,
  kDgc,
  kDgcFp16,
  kDgcHierarchical,
  kDgcReduceScatter,
  kDgcAuto
};

bool applies_momentum(Hook hook) {
  return hook != Hook::kDense && hook != Hook::kFp16 && hook != Hook::kBf16 &&
         hook != Hook::kPowerSgd;
}

std::unique_ptr<dgc::CommHook> make_hook(Hook hook) {
  dgc::DgcHookOptions raw;
  raw.encoding = dgc::WireEncoding::kRaw;
  switch (hook) {
    case Hook::kDense:
      return dgc::make_allreduce_hook("allreduce");
    case Hook::kFp16:
      return dgc::make_allreduce_hook("fp16");
    case Hook::kBf16:
      return dgc::make_allreduce_hook("bf16");
    case Hook::kDgcRaw:
      return std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(false)), raw);
    case Hook::kDgc:
      return std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(false)));
    case Hook::kDgcFp16:
      return std::make_unique<dgc::DgcHook>(dgc::Compressor(dgc_options(true)));
    case Hook::kDgcHierarchical:
      return std::make_unique<dgc::DgcHierarchicalHook>(dgc::Compressor(dgc_options(false)));
    case Hook::kDgcReduceScatter:
      return std::make_unique<dgc::DgcReduceScatterHook>(dgc::Compressor(dgc_options(false)));
    case Hook::kDgcAuto:  // the links measured at its first step
      return std::make_unique<dgc::DgcAutoHook>(dgc::Compressor(dgc_options(false)));
    case Hook::kPowerSgd: {
      dgc::PowerSgdOptions o;
      o.matrix_approximation_rank = 4;
      o.start_powerSGD_iter = 0;  // compressed from the first step
      return std::make_unique<dgc::PowerSgdHook>(o);
    }
  }
  return nullptr;
}

// A DistributedOptimizer with its inner optimizer: DGC-SGD under DGC (the momentum lives in the
// compressor's memory), plain momentum SGD otherwise.
struct Exchanger {
  std::unique_ptr<torch::optim::Optimizer> inner;
  std::unique_ptr<dgc::DistributedOptimizer> opt;
};

Exchanger make_exchanger(dgc::Communicator& comm,
                         const dgc::DistributedOptimizer::NamedParameters& named, Hook hook,
                         bool overlap) {
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : named) params.push_back(p);
  const auto sgd = torch::optim::SGDOptions(0.01).momentum(0.9);
  dgc::DistributedOptions options;
  options.overlap = overlap;
  Exchanger e;
  if (applies_momentum(hook)) {
    e.inner = std::make_unique<dgc::DGCSGD>(params, sgd);
  } else {
    e.inner = std::make_unique<torch::optim::SGD>(params, sgd);
  }
  e.opt =
      std::make_unique<dgc::DistributedOptimizer>(comm, *e.inner, named, make_hook(hook), options);
  return e;
}

void print_rule() { std::printf("%s\n", std::string(113, '-').c_str()); }

// ---- Part 1: the exchange of ResNet-50's gradients ------------------------------------------

struct ExchangeMode {
  const char* name;
  Hook hook;
};
constexpr ExchangeMode kExchangeModes[] = {{"dense", Hook::kDense},
                                           {"dense-fp16", Hook::kFp16},
                                           {"dense-bf16", Hook::kBf16},
                                           {"powersgd r4", Hook::kPowerSgd},
                                           {"dgc raw f32/i64", Hook::kDgcRaw},
                                           {"dgc fp32", Hook::kDgc},
                                           {"dgc fp16", Hook::kDgcFp16},
                                           {"dgc hierarch.", Hook::kDgcHierarchical},
                                           {"dgc red.-scat.", Hook::kDgcReduceScatter},
                                           {"dgc auto", Hook::kDgcAuto}};

// Steps cycle through this many gradient sets: a real step brings a new gradient, and the same
// one every step would drive the DGC residual into an unusual sawtooth (see bench_compress.cpp).
constexpr std::size_t kGradientSets = 4;

// One mode with parameters of its own: every DistributedOptimizer hooks the tensors it wraps, so
// two modes cannot share them.
struct ExchangeRun {
  ExchangeMode mode;
  std::vector<torch::Tensor> params;
  Exchanger exchanger;
  Timings timings;
  dgc::TrafficStats traffic;
};

std::unique_ptr<ExchangeRun> make_exchange_run(dgc::Communicator& comm, const ExchangeMode& mode) {
  auto run = std::make_unique<ExchangeRun>();
  run->mode = mode;
  dgc::DistributedOptimizer::NamedParameters named;
  for (const auto& t : dgc::bench::resnet50_shapes()) {
    run->params.push_back(torch::zeros(t.shape).requires_grad_());
    named.emplace_back(t.name, run->params.back());
  }
  // Overlap off: synchronize() then runs the whole exchange, and only it is timed.
  run->exchanger = make_exchanger(comm, named, mode.hook, /*overlap=*/false);
  return run;
}

// Different on every rank, as data-parallel gradients are.
std::vector<std::vector<torch::Tensor>> make_gradient_sets(int rank) {
  torch::manual_seed(1 + static_cast<std::uint64_t>(rank));
  std::vector<std::vector<torch::Tensor>> sets(kGradientSets);
  for (const auto& t : dgc::bench::resnet50_shapes()) {
    for (auto& set : sets) set.push_back(torch::randn(t.shape));
  }
  return sets;
}

// Backward with the parameters as roots hands exactly `grads` to the hooks, at no cost beyond
// autograd's own accumulation into .grad; it is not timed.
void deliver(ExchangeRun& run, const std::vector<torch::Tensor>& grads) {
  torch::autograd::backward(run.params, grads);
}

// The numbers mean something only if the hooks received `grads`: after a dense exchange .grad is
// their average over the ranks. And autograd must not have adopted a gradient set as .grad (it
// may steal an unshared gradient), or the exchange would overwrite the workload.
void check_delivered(dgc::Communicator& comm, const ExchangeRun& run,
                     const std::vector<torch::Tensor>& grads) {
  for (const std::size_t i : {std::size_t{0}, grads.size() - 1}) {
    DGC_CHECK(run.params[i].grad().data_ptr() != grads[i].data_ptr(), "tensor ", i,
              ": .grad aliases the delivered gradient");
    auto expected = grads[i].clone();
    comm.allreduce(expected, dgc::ReduceOp::kAverage);
    DGC_CHECK(torch::allclose(run.params[i].grad(), expected), "tensor ", i,
              " did not receive the delivered gradient: the exchange workload is broken");
  }
}

// The cost model's seconds for one step of this mode's collectives (include/dgc/exchange_cost.h):
// the DGC hooks' own prediction over their buckets; for the dense hooks one allreduce of the
// payload; none for PowerSGD (-1).
double predicted_seconds(const ExchangeRun& run, const dgc::ExchangeCosts& costs,
                         const dgc::Topology& topology) {
  const dgc::CommHook& hook = run.exchanger.opt->hook();
  if (const auto* dgc_hook = dynamic_cast<const dgc::DgcHook*>(&hook)) {
    return dgc_hook->predict_step_seconds(costs);
  }
  const std::int64_t fp32 = run.traffic.dense_bytes;
  switch (run.mode.hook) {
    case Hook::kDense:
      return dgc::predict_seconds(dgc::DgcScheme::kDense, {fp32, fp32, 0, 0}, topology, costs,
                                  dgc::WireEncoding::kRaw);
    case Hook::kFp16:
    case Hook::kBf16:
      return dgc::predict_seconds(dgc::DgcScheme::kDense, {fp32 / 2, fp32, 0, 0}, topology, costs,
                                  dgc::WireEncoding::kRaw);
    default:
      return -1;
  }
}

void print_exchange(const std::vector<std::unique_ptr<ExchangeRun>>& runs, const Settings& s,
                    const dgc::ExchangeCosts& costs, const dgc::Topology& topology) {
  std::int64_t elements = 0;
  for (const auto& p : runs.front()->params) elements += p.numel();
  std::printf(
      "\n== Exchange of ResNet-50 gradients: %zu tensors, %lld elements; synchronize() "
      "alone, overlap off\n",
      runs.front()->params.size(), static_cast<long long>(elements));
  std::printf(
      "   DGC ratio 0.001, sample ratio 0.01; %d warm-up + %d timed steps per mode, "
      "interleaved; slowest rank per step\n",
      s.warmup, s.steps);
  print_rule();
  // With one rank per node there is no node link to measure (its collectives cost nothing).
  char node_link[64] = "none (one rank per node)";
  if (topology.world_size > topology.node_count) {
    std::snprintf(node_link, sizeof node_link, "%.1f us + %.2f GB/s",
                  costs.node.latency_seconds * 1e6, costs.node.bytes_per_second / 1e9);
  }
  std::printf("   links measured: network %.1f us + %.2f GB/s, node %s (measure_exchange_costs)\n",
              costs.network.latency_seconds * 1e6, costs.network.bytes_per_second / 1e9, node_link);
  std::printf("%-15s %9s %8s %8s %9s %10s %12s %12s %12s %10s %8s\n", "mode", "median ms", "min ms",
              "max ms", "model ms", "dense/mode", "sent/step", "recv/step", "off-node",
              "dense/sent", "faults");
  print_rule();
  const double dense_ms = runs.front()->timings.median_ms();
  for (const auto& run : runs) {
    const Timings& time = run->timings;
    const auto& t = run->traffic;
    const double model_ms = predicted_seconds(*run, costs, topology) * 1e3;
    std::printf("%-15s %9.2f %8.2f %8.2f %9s %9.2fx %9.1f kB %9.1f kB %9.1f kB %9.1fx %8.0f\n",
                run->mode.name, time.median_ms(), time.min_ms(), time.max_ms(),
                model_ms < 0 ? "-" : std::to_string(model_ms).substr(0, 8).c_str(),
                dense_ms / time.median_ms(), t.bytes_sent / 1e3, t.bytes_received / 1e3,
                (t.bytes_sent + t.bytes_received - t.intra_node_bytes) / 1e3,
                static_cast<double>(t.dense_bytes) / static_cast<double>(t.bytes_sent),
                time.faults_per_step());
  }
  print_rule();
  std::printf(
      "model ms: the cost model's prediction of the step's collectives with the links above "
      "(compression and decoding are not in it; docs/SPARSE_EXCHANGES.md). "
      "dense/mode: the dense allreduce's median over this mode's (same run). sent/recv: "
      "payload handed to / returned by the collectives per rank and step; off-node: the part of "
      "both that left the node (all of it unless nodes are set, DGC_EMULATED_NODE_SIZE). "
      "dense/sent: "
      "TrafficStats dense_bytes / bytes_sent (the paper: 277x for ResNet-50). faults: minor page "
      "faults per step (the most on one rank).\n");
}

void run_exchange(dgc::Communicator& comm, const Settings& s) {
  const auto costs = dgc::measure_exchange_costs(comm);
  const auto sets = make_gradient_sets(comm.rank());
  std::vector<std::unique_ptr<ExchangeRun>> runs;
  for (const auto& mode : kExchangeModes) runs.push_back(make_exchange_run(comm, mode));
  for (int round = 0; round < s.warmup + s.steps; ++round) {
    const auto& grads = sets[static_cast<std::size_t>(round) % sets.size()];
    in_turn(runs, round, [&](ExchangeRun& run) {
      deliver(run, grads);
      const Sample sample = timed_step(comm, [&] { run.exchanger.opt->synchronize(); });
      if (round == 0 && run.mode.hook == Hook::kDense) check_delivered(comm, run, grads);
      if (round < s.warmup) return;
      run.timings.add(sample);
      run.traffic = run.exchanger.opt->last_step_traffic();
    });
  }
  if (comm.rank() == 0) print_exchange(runs, s, costs, {comm.size(), comm.node_count()});
}

// ---- Part 2: overlap of the exchange with backward --------------------------------------------

// Sized so that a step at one thread takes ~100-300 ms and the dense gradient is tens of MB:
// 12.5 M parameters, 50 MB as float32, two buckets at the default 25 MiB. The batch is small
// because Debian's libtorch multiplies with the reference BLAS (~3 GFLOP/s on one core here);
// the exchange does not depend on it.
constexpr std::int64_t kBatch = 8, kIn = 1024, kHidden = 2048, kClasses = 1000;
constexpr std::size_t kBatches = 4;

torch::nn::Sequential make_mlp() {
  torch::manual_seed(0);  // the same initial weights in every mode and on every rank
  using torch::nn::Linear;
  using torch::nn::ReLU;
  return torch::nn::Sequential(Linear(kIn, kHidden), ReLU(), Linear(kHidden, kHidden), ReLU(),
                               Linear(kHidden, kHidden), ReLU(), Linear(kHidden, kClasses));
}

struct Batch {
  torch::Tensor x, y;
};

std::vector<Batch> make_batches(int rank) {
  torch::manual_seed(100 + static_cast<std::uint64_t>(rank));
  std::vector<Batch> batches;
  for (std::size_t i = 0; i < kBatches; ++i) {
    batches.push_back({torch::randn({kBatch, kIn}), torch::randint(0, kClasses, {kBatch})});
  }
  return batches;
}

struct OverlapMode {
  const char* name;
  bool exchange;  // false: the local step alone, no DistributedOptimizer
  bool dgc;
  bool overlap;
};
constexpr OverlapMode kOverlapModes[] = {{"local", false, false, false},
                                         {"dense", true, false, false},
                                         {"dense", true, false, true},
                                         {"dgc", true, true, false},
                                         {"dgc", true, true, true}};

struct OverlapRun {
  OverlapMode mode;
  torch::nn::Sequential model;
  std::unique_ptr<torch::optim::Optimizer> local;  // the "local" mode's optimizer
  Exchanger exchanger;
  Timings timings;
};

std::unique_ptr<OverlapRun> make_overlap_run(dgc::Communicator& comm, const OverlapMode& mode) {
  auto run = std::make_unique<OverlapRun>();
  run->mode = mode;
  run->model = make_mlp();
  if (mode.exchange) {
    run->exchanger = make_exchanger(comm, run->model->named_parameters().pairs(),
                                    mode.dgc ? Hook::kDgc : Hook::kDense, mode.overlap);
  } else {
    run->local = std::make_unique<torch::optim::SGD>(run->model->parameters(),
                                                     torch::optim::SGDOptions(0.01).momentum(0.9));
  }
  return run;
}

void training_step(OverlapRun& run, const Batch& batch) {
  auto* opt = run.exchanger.opt.get();
  if (opt != nullptr) {
    opt->zero_grad();
  } else {
    run.local->zero_grad();
  }
  torch::nn::functional::cross_entropy(run.model->forward(batch.x), batch.y).backward();
  if (opt != nullptr) {
    opt->step();
  } else {
    run.local->step();
  }
}

void print_overlap(const std::vector<std::unique_ptr<OverlapRun>>& runs, const Settings& s) {
  std::int64_t elements = 0;
  for (const auto& p : runs.front()->model->parameters()) elements += p.numel();
  std::printf(
      "\n== Step time with overlap: MLP %lld-%lld-%lld-%lld-%lld, batch %lld, %lld "
      "parameters (%.1f MB float32)\n",
      static_cast<long long>(kIn), static_cast<long long>(kHidden), static_cast<long long>(kHidden),
      static_cast<long long>(kHidden), static_cast<long long>(kClasses),
      static_cast<long long>(kBatch), static_cast<long long>(elements),
      4e-6 * static_cast<double>(elements));
  std::printf(
      "   zero_grad + forward + backward + step; %d warm-up + %d timed steps per mode, "
      "interleaved; slowest rank per step\n",
      s.overlap_warmup, s.overlap_steps);
  print_rule();
  const Timings& local = runs.front()->timings;
  std::printf("local step, no exchange: %.2f ms median, %.0f faults/step\n", local.median_ms(),
              local.faults_per_step());
  std::printf("%-6s %15s %11s %14s %14s %16s %15s\n", "mode", "after-backward", "overlap",
              "overlap/after", "exposed after", "exposed overlap", "faults af/ov");
  print_rule();
  // The modes come in (after backward, overlap) pairs after "local".
  for (std::size_t i = 1; i + 1 < runs.size(); i += 2) {
    const Timings &after = runs[i]->timings, &overlap = runs[i + 1]->timings;
    std::printf("%-6s %12.2f ms %8.2f ms %13.2fx %11.2f ms %13.2f ms %7.0f /%6.0f\n",
                runs[i]->mode.name, after.median_ms(), overlap.median_ms(),
                overlap.median_ms() / after.median_ms(), after.median_ms() - local.median_ms(),
                overlap.median_ms() - local.median_ms(), after.faults_per_step(),
                overlap.faults_per_step());
  }
  print_rule();
  std::printf(
      "medians; exposed: the step's median minus the local step's, the exchange time that "
      "backward did not hide. faults: minor page faults per step (the most on one rank).\n");
}

void run_overlap(dgc::Communicator& comm, const Settings& s) {
  const auto batches = make_batches(comm.rank());
  std::vector<std::unique_ptr<OverlapRun>> runs;
  for (const auto& mode : kOverlapModes) runs.push_back(make_overlap_run(comm, mode));
  for (auto& run : runs) {
    if (run->exchanger.opt) run->exchanger.opt->broadcast_parameters();
  }
  for (int round = 0; round < s.overlap_warmup + s.overlap_steps; ++round) {
    const Batch& batch = batches[static_cast<std::size_t>(round) % batches.size()];
    in_turn(runs, round, [&](OverlapRun& run) {
      const Sample sample = timed_step(comm, [&] { training_step(run, batch); });
      if (round >= s.overlap_warmup) run.timings.add(sample);
    });
  }
  if (comm.rank() == 0) print_overlap(runs, s);
}

}  // namespace

int main(int argc, char** argv) try {
  const Settings settings = parse(argc, argv);  // the same arguments fail alike on every rank
  dgc::Communicator comm;
  try {
    at::set_num_threads(settings.threads);
    if (comm.rank() == 0) {
      std::printf("dgc-bench-exchange: %d ranks (%d on this machine), %d thread(s) per rank\n",
                  comm.size(), comm.local_size(), at::get_num_threads());
    }
    if (settings.exchange) run_exchange(comm, settings);
    if (settings.overlap) run_overlap(comm, settings);
    std::fflush(stdout);
    return 0;
  } catch (const dgc::Error& e) {
    // A rank that stops alone would leave the others waiting in a collective: end the job.
    comm.abort(std::string("dgc-bench-exchange: ") + e.message());
  }
} catch (const dgc::Error& e) {  // bad arguments, or MPI did not start
  std::fprintf(stderr, "dgc-bench-exchange: %s\n", e.message().c_str());
  return 1;
}
