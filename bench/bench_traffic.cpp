// dgc-bench-traffic: the bytes one step of each sparse exchange moves per rank, on ResNet-50's
// gradients (161 tensors, 25.6 M elements), run under mpirun at any world size (bench/traffic.sh
// runs np 2, 4, 8 and 16 and writes the table of docs/PERFORMANCE.md).
//
// Each exchange trains a few steps on fresh random gradients (different on every rank) at DGC's
// final ratio 0.001 (sample ratio 0.01), and the last step's TrafficStats of every rank are
// gathered: sent and received, the mean over the ranks and the largest rank's, the part of sent +
// received that stayed inside a node (TrafficStats::intra_node_bytes: the hierarchical
// exchange's node sums and broadcasts), and dense float32 / sent. Counts, not times: the ranks may
// oversubscribe the cores. Only rank 0 prints; one line per exchange, then
//   CSV,<exchange>,<np>,<sent mean>,<sent max>,<recv mean>,<recv max>,<intra-node mean>,
//       <dense bytes>
// for the script.
//   OMP_NUM_THREADS=1 mpirun -np 4 dgc-bench-traffic [--steps N] [--only NAME]
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/compressor.h"
#include "dgc/distributed_optimizer.h"
#include "dgc/hooks/allreduce_hook.h"
#include "dgc/hooks/make_dgc_hook.h"
#include "dgc/sgd.h"
#include "resnet50_shapes.h"

namespace {

struct Exchange {
  const char* name;
  const char* hook;  // dgc, dgc_hierarchical, dgc_reduce_scatter, or a dense hook's name
  dgc::WireEncoding encoding;
  bool fp16_values, int32_indices;
};

constexpr Exchange kExchanges[] = {
    {"dense fp32", "allreduce", dgc::WireEncoding::kEncoded, false, false},
    {"dense fp16", "fp16", dgc::WireEncoding::kEncoded, false, false},
    {"dgc raw fp32/int64", "dgc", dgc::WireEncoding::kRaw, false, false},
    {"dgc raw fp16/int32", "dgc", dgc::WireEncoding::kRaw, true, true},
    {"dgc fp32", "dgc", dgc::WireEncoding::kEncoded, false, false},
    {"dgc fp16", "dgc", dgc::WireEncoding::kEncoded, true, false},
    {"hierarchical fp16", "dgc_hierarchical", dgc::WireEncoding::kEncoded, true, false},
    {"reduce-scatter fp32", "dgc_reduce_scatter", dgc::WireEncoding::kEncoded, false, false},
    {"reduce-scatter fp16", "dgc_reduce_scatter", dgc::WireEncoding::kEncoded, true, false},
};

std::unique_ptr<dgc::CommHook> make_hook(const Exchange& e) {
  const std::string hook = e.hook;
  if (hook.rfind("dgc", 0) != 0) return dgc::make_allreduce_hook(hook);
  dgc::CompressorOptions o;
  o.compress_ratio = 0.001;
  o.sample_ratio = 0.01;
  o.fp16_values = e.fp16_values;
  o.int32_indices = e.int32_indices;
  dgc::DgcHookOptions h;
  h.encoding = e.encoding;
  return dgc::make_dgc_hook(hook, dgc::Compressor(o), h);
}

// The last step's traffic of every rank, [sent, received, intra-node] per rank, then the dense
// bytes.
std::vector<std::int64_t> measure(dgc::Communicator& comm, const Exchange& e, int steps) {
  std::vector<torch::Tensor> params;
  dgc::DistributedOptimizer::NamedParameters named;
  for (const auto& t : dgc::bench::resnet50_shapes()) {
    params.push_back(torch::zeros(t.shape).requires_grad_());
    named.emplace_back(t.name, params.back());
  }
  const auto sgd = torch::optim::SGDOptions(0.01).momentum(0.9);
  std::unique_ptr<torch::optim::Optimizer> inner;
  if (std::string(e.hook).rfind("dgc", 0) == 0) {
    inner = std::make_unique<dgc::DGCSGD>(params, sgd);
  } else {
    inner = std::make_unique<torch::optim::SGD>(params, sgd);
  }
  dgc::DistributedOptimizer opt(comm, *inner, named, make_hook(e));
  torch::manual_seed(1 + static_cast<std::uint64_t>(comm.rank()));
  for (int step = 0; step < steps; ++step) {
    std::vector<torch::Tensor> grads;
    for (const auto& p : params) grads.push_back(torch::randn(p.sizes()));
    opt.zero_grad();
    torch::autograd::backward(params, grads);
    opt.synchronize();
  }
  const auto& t = opt.last_step_traffic();
  const std::int64_t mine[3] = {t.bytes_sent, t.bytes_received, t.intra_node_bytes};
  std::vector<std::int64_t> all(3 * static_cast<std::size_t>(comm.size()));
  comm.allgather(mine, sizeof mine, all.data());
  all.push_back(t.dense_bytes);
  return all;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 3;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) {
      steps = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: dgc-bench-traffic [--steps N] [--only NAME]\n");
      return 2;
    }
  }
  try {
    dgc::Communicator comm;
    const int n = comm.size();
    if (comm.rank() == 0) {
      std::printf("== Bytes per rank of one step on ResNet-50's gradients, np %d (step %d of %d)\n",
                  n, steps, steps);
      std::printf("%-20s %12s %12s %12s %12s %12s %10s\n", "exchange", "sent mean", "sent max",
                  "recv mean", "recv max", "in-node", "dense/sent");
    }
    for (const auto& e : kExchanges) {
      if (!only.empty() && only != e.name) continue;
      const auto all = measure(comm, e, steps);
      if (comm.rank() != 0) continue;
      double sum[3] = {0, 0, 0};
      std::int64_t max[3] = {0, 0, 0};
      for (int r = 0; r < n; ++r) {
        for (int k = 0; k < 3; ++k) {
          sum[k] += static_cast<double>(all[3 * r + k]);
          max[k] = std::max(max[k], all[3 * r + k]);
        }
      }
      const double dense = static_cast<double>(all.back());
      std::printf("%-20s %9.1f kB %9.1f kB %9.1f kB %9.1f kB %9.1f kB %9.0fx\n", e.name,
                  sum[0] / n / 1e3, max[0] / 1e3, sum[1] / n / 1e3, max[1] / 1e3, sum[2] / n / 1e3,
                  dense / (sum[0] / n));
      std::printf("CSV,%s,%d,%.0f,%lld,%.0f,%lld,%.0f,%.0f\n", e.name, n, sum[0] / n,
                  static_cast<long long>(max[0]), sum[1] / n, static_cast<long long>(max[1]),
                  sum[2] / n, dense);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dgc-bench-traffic: %s\n", e.what());
    return 1;
  }
  return 0;
}
