#include "dgc/exchange_cost.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "dgc/communicator.h"
#include "dgc/error.h"

namespace dgc {

namespace {

double allreduce_seconds(int p, double bytes, const LinkCost& link) {
  if (p <= 1 || bytes <= 0) return 0;  // no bytes: the hooks make no collective
  return 2.0 * (p - 1) * link.latency_seconds + 2.0 * (p - 1) / p * bytes / link.bytes_per_second;
}

double allgather_seconds(int p, double bytes_per_rank, const LinkCost& link, bool with_sizes) {
  if (p <= 1) return 0;
  return (with_sizes ? 2.0 : 1.0) * (p - 1) * link.latency_seconds +
         (p - 1) * bytes_per_rank / link.bytes_per_second;
}

double broadcast_seconds(int p, double bytes, const LinkCost& link) {
  if (p <= 1) return 0;
  return std::ceil(std::log2(p)) * (link.latency_seconds + bytes / link.bytes_per_second);
}

// Median seconds of `reps` allreduces of `bytes` over `group`.
double time_allreduce(ProcessGroup& group, std::int64_t bytes, int reps) {
  std::vector<float> buffer(static_cast<std::size_t>(bytes / 4), 1.0f);
  std::vector<double> times;
  group.barrier();
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    group.allreduce(buffer.data(), static_cast<std::int64_t>(buffer.size()), torch::kFloat,
                    ReduceOp::kSum);
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + reps / 2, times.end());
  return times[static_cast<std::size_t>(reps / 2)];
}

// alpha and beta of the allreduce formula through the two sizes' times.
LinkCost fit(ProcessGroup& group) {
  const int p = group.size();
  if (p <= 1) return {0, 1e300};
  constexpr std::int64_t kSmall = 8, kLarge = 4 << 20;
  const double small = time_allreduce(group, kSmall, 9);
  const double large = time_allreduce(group, kLarge, 5);
  const double per_byte = std::max(large - small, 1e-9) / (2.0 * (p - 1) / p * (kLarge - kSmall));
  return {std::max(small, 1e-9) / (2.0 * (p - 1)), 1.0 / per_byte};
}

}  // namespace

const char* scheme_name(DgcScheme scheme) {
  switch (scheme) {
    case DgcScheme::kDense:
      return "dense";
    case DgcScheme::kAllgather:
      return "allgather";
    case DgcScheme::kHierarchical:
      return "hierarchical";
    case DgcScheme::kReduceScatter:
      return "reduce_scatter";
  }
  return "?";
}

double predict_seconds(DgcScheme scheme, const BucketBytes& b, const Topology& t,
                       const ExchangeCosts& costs, WireEncoding encoding,
                       bool hierarchical_allgather) {
  DGC_CHECK(t.world_size >= 1 && t.node_count >= 1 && t.world_size % t.node_count == 0,
            "predict_seconds: ", t.node_count, " nodes do not split ", t.world_size,
            " ranks evenly");
  const int p = t.world_size, nodes = t.node_count, s = p / nodes;
  // A flat collective spans the nodes: the network is its slowest link.
  const LinkCost& flat = nodes > 1 ? costs.network : costs.node;
  const bool sizes = encoding == WireEncoding::kEncoded;
  const auto m = static_cast<double>(b.message);
  // The world's allgather of `per_rank` bytes from each rank: through the node leaders (always
  // with sizes) where they apply, else flat.
  const bool leaders = gathers_through_leaders(hierarchical_allgather, t);
  const auto world_allgather = [&](double per_rank, bool with_sizes) {
    if (!leaders) return allgather_seconds(p, per_rank, flat, with_sizes);
    return allgather_seconds(s, per_rank, costs.node, /*with_sizes=*/true) +
           allgather_seconds(nodes, s * (per_rank + 8), costs.network, /*with_sizes=*/true) +
           broadcast_seconds(s, p * per_rank, costs.node);
  };
  switch (scheme) {
    case DgcScheme::kDense:
      return allreduce_seconds(p, static_cast<double>(b.dense), flat);
    case DgcScheme::kAllgather:
      return world_allgather(m, sizes) + allreduce_seconds(p, static_cast<double>(b.one_dim), flat);
    case DgcScheme::kHierarchical:
      return allreduce_seconds(s, static_cast<double>(b.node_sum), costs.node) +
             allgather_seconds(nodes, m, costs.network, sizes) +
             allreduce_seconds(nodes, static_cast<double>(b.one_dim), costs.network) +
             broadcast_seconds(s, nodes * m + static_cast<double>(b.one_dim), costs.node);
    case DgcScheme::kReduceScatter:
      return (p > 1
                  ? 2.0 * (p - 1) * flat.latency_seconds + (p - 1.0) / p * m / flat.bytes_per_second
                  : 0.0) +
             world_allgather(m / p, /*with_sizes=*/true) +
             allreduce_seconds(p, static_cast<double>(b.one_dim), flat);
  }
  return 0;
}

ExchangeCosts measure_exchange_costs(Communicator& comm) {
  ExchangeCosts costs;
  // Every rank takes part in every timed collective, leaders or not, so that the groups'
  // collectives stay matched; the cross-node groups of non-leaders time the same network.
  costs.node = fit(comm.node());
  costs.network = comm.node_count() > 1 ? fit(comm.cross_node()) : fit(comm);
  // The slowest rank's figures on every rank: the largest latency, the smallest bandwidth.
  double figures[4] = {costs.network.latency_seconds, -costs.network.bytes_per_second,
                       costs.node.latency_seconds, -costs.node.bytes_per_second};
  std::vector<double> all(4 * static_cast<std::size_t>(comm.size()));
  comm.allgather(figures, sizeof figures, all.data());
  for (int r = 0; r < comm.size(); ++r) {
    for (int k = 0; k < 4; ++k) figures[k] = std::max(figures[k], all[4 * r + k]);
  }
  return {{figures[0], -figures[1]}, {figures[2], -figures[3]}};
}

}  // namespace dgc
