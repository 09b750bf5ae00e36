// BM_Compress/{fused,fused_per_tensor,reference,floor}/<threads>: one full local DGC step over
// the 54 compressed tensors of ResNet-50 (ratio 0.001, sample ratio 0.01). After the runs it prints
// each variant's time against `floor` (one plain momentum pass, the memory-bandwidth floor) and
// `reference` (the op-by-op translation of the original), measured in the same run.
// BM_Codec/{encode,decode}/1: the step's selections (one fused step's) into encoded blocks with
// float16 values and back (include/dgc/wire.h), one thread; printed against fused/1.
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "dgc/compressor.h"
#include "reference_step.h"
#include "resnet50_shapes.h"
#include "sparse_codec.h"

namespace {

// Steps cycle through this many gradient sets: a real step brings a new gradient, and feeding
// the same one every step drives the residual into an unusual sawtooth distribution.
constexpr std::size_t kGradientSets = 4;

struct Workload {
  std::vector<std::string> names;
  std::vector<std::vector<torch::Tensor>> sets;  // [set][tensor]
  const std::vector<torch::Tensor>& grads(std::int64_t step) const {
    return sets[static_cast<std::size_t>(step) % sets.size()];
  }
};

// The compressed tensors of ResNet-50 with normal random gradients.
const Workload& workload() {
  static const Workload w = [] {
    Workload w;
    torch::manual_seed(0);
    w.sets.resize(kGradientSets);
    for (const auto& t : dgc::bench::resnet50_shapes()) {
      if (t.shape.size() < 2) continue;
      w.names.push_back(t.name);
      for (auto& set : w.sets) set.push_back(torch::randn(t.shape));
    }
    return w;
  }();
  return w;
}

// The library's kernel; `batch` compresses the step's tensors with Compressor::compress_batch
// (threads spread over tensors), otherwise one compress_into per tensor (threads within each).
void run_fused(benchmark::State& state, bool batch) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  const auto& w = workload();
  dgc::Compressor compressor;
  std::vector<std::vector<float>> values;
  std::vector<std::vector<std::int64_t>> indices;
  std::vector<dgc::CompressJob> jobs;
  for (std::size_t i = 0; i < w.names.size(); ++i) {
    compressor.add(w.names[i], w.grads(0)[i].sizes());
    const auto capacity = static_cast<std::size_t>(compressor.plan(w.names[i]).num_selects);
    values.emplace_back(capacity);
    indices.emplace_back(capacity);
    jobs.push_back({w.names[i], {}, values.back().data(), indices.back().data(), 0});
  }
  std::int64_t sent = 0, step = 0;
  for (auto _ : state) {
    const auto& grads = w.grads(step++);
    for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i].grad = grads[i];
    if (batch) {
      compressor.compress_batch(jobs);
    } else {
      for (auto& job : jobs) {
        job.count = compressor.compress_into(job.name, job.grad, job.values, job.indices);
      }
    }
    for (const auto& job : jobs) sent += job.count;
  }
  state.counters["sent/step"] = static_cast<double>(sent) / static_cast<double>(state.iterations());
}

void BM_Fused(benchmark::State& state) { run_fused(state, true); }
void BM_FusedPerTensor(benchmark::State& state) { run_fused(state, false); }

void BM_Reference(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  const auto& w = workload();
  std::vector<dgc::TensorPlan> plans;
  std::vector<torch::Tensor> u, v;
  for (const auto& g : w.grads(0)) {
    plans.push_back(dgc::make_plan(g.numel(), 0.001, 0.01));
    u.push_back(torch::zeros_like(g));
    v.push_back(torch::zeros_like(g));
  }
  const dgc::detail::StepParams params;
  std::uint64_t draw = 0;
  std::int64_t sent = 0, step = 0;
  for (auto _ : state) {
    const auto& grads = w.grads(step++);
    for (std::size_t i = 0; i < grads.size(); ++i) {
      sent += dgc::detail::reference_step(grads[i], u[i], v[i], plans[i], params, ++draw)
                  .indices.numel();
    }
  }
  state.counters["sent/step"] = static_cast<double>(sent) / static_cast<double>(state.iterations());
}

// u = m*u + g; v += u: what any implementation must at least read and write.
void momentum_range(const float* g, float* u, float* v, std::int64_t begin, std::int64_t end,
                    float m) {
  for (std::int64_t i = begin; i < end; ++i) {
    u[i] = m * u[i] + g[i];
    v[i] += u[i];
  }
}

// The floor's buffers: u and v for every tensor of the workload.
struct FloorState {
  std::vector<torch::Tensor> u, v;
  explicit FloorState(const Workload& w) {
    for (const auto& g : w.grads(0)) {
      u.push_back(torch::zeros_like(g));
      v.push_back(torch::zeros_like(g));
    }
  }
  void pass(const torch::Tensor& g, std::size_t i, std::int64_t begin, std::int64_t end) {
    momentum_range(g.data_ptr<float>(), u[i].data_ptr<float>(), v[i].data_ptr<float>(), begin, end,
                   0.9f);
  }
};

// Each tensor split between the threads.
void BM_Floor(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  const auto& w = workload();
  FloorState floor(w);
  std::int64_t step = 0;
  for (auto _ : state) {
    const auto& grads = w.grads(step++);
    for (std::size_t i = 0; i < grads.size(); ++i) {
      at::parallel_for(0, grads[i].numel(), 1 << 15, [&](std::int64_t begin, std::int64_t end) {
        floor.pass(grads[i], i, begin, end);
      });
    }
    benchmark::ClobberMemory();
  }
}

// Whole tensors handed to the threads, largest first, as compress_batch hands them out: the floor
// of the fused step's own schedule, with no fork and join per tensor.
void BM_FloorWhole(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  at::set_num_threads(threads);
  const auto& w = workload();
  FloorState floor(w);
  std::vector<std::size_t> order(w.grads(0).size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return w.grads(0)[a].numel() > w.grads(0)[b].numel();
  });
  std::int64_t step = 0;
  for (auto _ : state) {
    const auto& grads = w.grads(step++);
    std::atomic<std::size_t> next{0};
    at::parallel_for(0, threads, 1, [&](std::int64_t, std::int64_t) {
      for (std::size_t k = next++; k < order.size(); k = next++) {
        floor.pass(grads[order[k]], order[k], 0, grads[order[k]].numel());
      }
    });
    benchmark::ClobberMemory();
  }
}

// One step's selections of the workload (fp32 values, int64 indices), from the fused kernel.
struct Selections {
  std::vector<std::vector<float>> values;
  std::vector<std::vector<std::int64_t>> indices;
  std::vector<std::int64_t> numels, counts;
};

const Selections& selections() {
  static const Selections sel = [] {
    const auto& w = workload();
    dgc::Compressor compressor;
    Selections sel;
    std::vector<dgc::CompressJob> jobs;
    for (std::size_t i = 0; i < w.names.size(); ++i) {
      compressor.add(w.names[i], w.grads(0)[i].sizes());
      const auto capacity = static_cast<std::size_t>(compressor.plan(w.names[i]).num_selects);
      sel.values.emplace_back(capacity);
      sel.indices.emplace_back(capacity);
      sel.numels.push_back(w.grads(0)[i].numel());
    }
    for (std::size_t i = 0; i < w.names.size(); ++i) {
      jobs.push_back({w.names[i], w.grads(0)[i], sel.values[i].data(), sel.indices[i].data(), 0});
    }
    compressor.compress_batch(jobs);
    for (const auto& job : jobs) sel.counts.push_back(job.count);
    return sel;
  }();
  return sel;
}

constexpr auto kCodecValues = dgc::detail::ValueType::kFloat16;

std::vector<std::uint8_t> encode_all(const Selections& sel) {
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < sel.counts.size(); ++i) {
    bytes += dgc::detail::encoded_block_bytes(sel.indices[i].data(), sel.counts[i], kCodecValues);
  }
  std::vector<std::uint8_t> out(bytes);
  std::size_t at = 0;
  for (std::size_t i = 0; i < sel.counts.size(); ++i) {
    at += dgc::detail::encode_block(sel.indices[i].data(), sel.values[i].data(), sel.counts[i],
                                    sel.numels[i], kCodecValues, out.data() + at);
  }
  return out;
}

void BM_Encode(benchmark::State& state) {
  const auto& sel = selections();
  std::int64_t entries = 0;
  for (const auto c : sel.counts) entries += c;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto out = encode_all(sel);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes/entry"] = static_cast<double>(bytes) / static_cast<double>(entries);
}

void BM_Decode(benchmark::State& state) {
  const auto& sel = selections();
  const auto message = encode_all(sel);
  std::vector<std::int64_t> indices;
  std::vector<float> values;
  for (auto _ : state) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < sel.counts.size(); ++i) {
      const auto capacity = static_cast<std::size_t>(sel.values[i].size());
      indices.resize(capacity);
      values.resize(capacity);
      at += dgc::detail::decode_block(message.data() + at, message.size() - at, sel.numels[i],
                                      static_cast<std::int64_t>(capacity), kCodecValues,
                                      indices.data(), values.data(), "bench")
                .bytes;
    }
    benchmark::DoNotOptimize(values.data());
  }
}

void register_all() {
  for (const auto& [name, fn] : std::vector<std::pair<std::string, void (*)(benchmark::State&)>>{
           {"BM_Codec/encode", BM_Encode}, {"BM_Codec/decode", BM_Decode}}) {
    benchmark::RegisterBenchmark(name.c_str(), fn)
        ->Arg(1)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  for (const auto& [name, fn] : std::vector<std::pair<std::string, void (*)(benchmark::State&)>>{
           {"BM_Compress/fused", BM_Fused},
           {"BM_Compress/fused_per_tensor", BM_FusedPerTensor},
           {"BM_Compress/reference", BM_Reference},
           {"BM_Compress/floor", BM_Floor},
           {"BM_Compress/floor_whole", BM_FloorWhole}}) {
    benchmark::RegisterBenchmark(name.c_str(), fn)
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

// Prints the console table as usual and remembers each variant's time for the ratios: the
// median over repetitions when there are several, else the single run.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (median || run.run_type == Run::RT_Iteration) {
        ms_[run.run_name.function_name + "/" + run.run_name.args] = run.GetAdjustedRealTime();
      }
    }
  }
  void print_ratios() const {
    for (const char* threads : {"1", "2"}) {
      const auto at = [&](const std::string& variant) {
        auto it = ms_.find("BM_Compress/" + variant + "/" + threads);
        return it == ms_.end() ? 0.0 : it->second;
      };
      const double fused = at("fused"), reference = at("reference"), floor = at("floor");
      if (fused <= 0 || floor <= 0 || reference <= 0) continue;
      std::printf("threads %s: fused/floor = %.2fx (target <= 1.5x), ", threads, fused / floor);
      std::printf("reference/fused = %.1fx (target >= 5x)", reference / fused);
      const double per_tensor = at("fused_per_tensor");
      if (per_tensor > 0) std::printf("; fused_per_tensor/floor = %.2fx", per_tensor / floor);
      const double floor_whole = at("floor_whole");
      if (floor_whole > 0) {
        // A step must at least do the plain pass, so reference/floor_whole is what a step as fast
        // as that pass would reach: where it is below 5x, so is every fused step.
        std::printf(
            "; fused/floor_whole = %.2fx; reference/floor_whole = %.1fx (a step as fast "
            "as the plain pass)",
            fused / floor_whole, reference / floor_whole);
      }
      std::printf("\n");
    }
    const auto at = [&](const std::string& name) {
      auto it = ms_.find(name);
      return it == ms_.end() ? 0.0 : it->second;
    };
    const double fused = at("BM_Compress/fused/1");
    if (fused > 0 && at("BM_Codec/encode/1") > 0 && at("BM_Codec/decode/1") > 0) {
      std::printf(
          "codec, one thread: encode/fused = %.4f, decode/fused = %.4f (one sender's "
          "message; a rank decodes one per sender)\n",
          at("BM_Codec/encode/1") / fused, at("BM_Codec/decode/1") / fused);
    }
  }

 private:
  std::map<std::string, double> ms_;
};

}  // namespace

int main(int argc, char** argv) {
  register_all();
  // This machine's timings drift by tens of percent within a minute, so by default every
  // variant runs 5 times, interleaved at random, and the ratios use the medians.
  std::vector<char*> args(argv, argv + argc);
  std::string repetitions = "--benchmark_repetitions=5";
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  std::string aggregates = "--benchmark_report_aggregates_only=true";
  bool user_repetitions = false;
  for (int i = 1; i < argc; ++i)
    user_repetitions |= std::string(argv[i]).rfind("--benchmark_repetitions", 0) == 0;
  if (!user_repetitions) {
    for (auto* flag : {&repetitions, &interleave, &aggregates}) args.push_back(flag->data());
  }
  argc = static_cast<int>(args.size());
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
