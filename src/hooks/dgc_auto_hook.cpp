#include "dgc/hooks/dgc_auto_hook.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstdio>

#include "dgc/error.h"
#include "hooks/dgc_bucket.h"
#include "hooks/dgc_schemes.h"

namespace dgc {

DgcAutoHook::DgcAutoHook(Compressor compressor, DgcHookOptions options, DgcAutoOptions choice)
    : DgcHook(std::move(compressor), options, DgcScheme::kAllgather),
      choice_(choice),
      costs_(choice.costs) {}

void DgcAutoHook::prepare(const std::vector<HookTensor>& tensors,
                          const std::vector<std::vector<std::size_t>>& buckets,
                          Communicator& comm) {
  nodes_uniform_ = comm.nodes_uniform();
  if (choice_.force) {
    const DgcScheme forced = *choice_.force;
    DGC_CHECK(forced != DgcScheme::kHierarchical || nodes_uniform_,
              "dgc_auto: the hierarchical scheme needs the same number of ranks on every node");
    DGC_CHECK(forced != DgcScheme::kReduceScatter || options_.encoding == WireEncoding::kEncoded,
              "dgc_auto: the reduce_scatter scheme sends encoded messages only");
  }
  DgcHook::prepare(tensors, buckets, comm);
  choices_.assign(buckets.size(), "");
}

void DgcAutoHook::plan_bucket(detail::DgcBucket& b, Communicator& comm) {
  std::size_t index = 0;
  while (buckets_[index].get() != &b) ++index;
  const bool replanned = !choices_[index].empty();
  const DgcScheme before = b.scheme;
  DgcHookOptions sparse = options_;
  sparse.dense_fallback = false;  // the model weighs dense itself
  b.plan(compressor_, sparse, world_size_);
  if (!costs_) costs_ = measure_exchange_costs(comm);

  std::vector<DgcScheme> candidates;
  if (choice_.force) {
    candidates = {*choice_.force};
  } else {
    if (options_.dense_fallback || b.sparse.empty()) candidates.push_back(DgcScheme::kDense);
    if (!b.sparse.empty()) {
      candidates.push_back(DgcScheme::kAllgather);
      if (options_.encoding == WireEncoding::kEncoded) {
        candidates.push_back(DgcScheme::kReduceScatter);
      }
      if (node_count_ > 1 && nodes_uniform_) candidates.push_back(DgcScheme::kHierarchical);
    }
  }
  const BucketBytes bytes = b.bytes(compressor_);
  DgcScheme chosen = candidates.front();
  double best = -1;
  std::string line;
  for (const DgcScheme s : candidates) {
    const double seconds = predict_seconds(s, bytes, {world_size_, node_count_}, *costs_,
                                           options_.encoding, options_.hierarchical_allgather);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%s%s %.3f ms", line.empty() ? "" : ", ", scheme_name(s),
                  seconds * 1e3);
    line += buffer;
    if (best < 0 || seconds < best) {
      best = seconds;
      chosen = s;
    }
  }
  if (chosen == DgcScheme::kDense) {
    b.go_dense(compressor_);
    b.scheme = DgcScheme::kAllgather;
  } else {
    b.scheme = chosen;
  }
  if (b.scheme == DgcScheme::kHierarchical) {
    // On a single node nothing leaves the machine: every tensor goes dense, as in
    // dgc_hierarchical.
    if (node_count_ == 1) b.plan(compressor_, sparse, world_size_, /*all_dense=*/true);
    b.node_sum.plan(b.numels, torch::kFloat);
    // Also at the first plan: a run resumed from a flat scheme's checkpoint holds per-rank
    // memories.
    if (!replanned || before != DgcScheme::kHierarchical) {
      detail::average_memory_in_node(b, compressor_, comm.node());
    }
  }
  choices_[index] = detail::concat(scheme_name(chosen), " (", line, ")");
}

namespace {
const char* kCostsKey = "dgc_auto.costs";
}

void DgcAutoHook::save(torch::serialize::OutputArchive& archive) const {
  DgcHook::save(archive);
  if (!costs_) return;
  archive.write(kCostsKey,
                torch::tensor({costs_->network.latency_seconds, costs_->network.bytes_per_second,
                               costs_->node.latency_seconds, costs_->node.bytes_per_second},
                              torch::kDouble),
                /*is_buffer=*/true);
}

void DgcAutoHook::load(torch::serialize::InputArchive& archive) {
  torch::Tensor saved;
  const bool has_costs = archive.try_read(kCostsKey, saved, /*is_buffer=*/true);
  if (has_costs) {
    DGC_CHECK(saved.scalar_type() == torch::kDouble && saved.numel() == 4 &&
                  torch::isfinite(saved).all().item<bool>() && (saved >= 0).all().item<bool>() &&
                  saved[1].item<double>() > 0 && saved[3].item<double>() > 0,
              "the dgc_auto state in the checkpoint has unusable link costs ", saved);
  }
  DgcHook::load(archive);
  if (has_costs && !choice_.costs) {
    const auto* v = saved.contiguous().data_ptr<double>();
    costs_ = ExchangeCosts{{v[0], v[1]}, {v[2], v[3]}};
  }
}

std::string DgcAutoHook::describe_choices() const {
  std::string out;
  for (std::size_t i = 0; i < choices_.size(); ++i) {
    if (choices_[i].empty()) continue;
    out += detail::concat(out.empty() ? "" : "\n", "bucket ", i, ": ", choices_[i]);
  }
  return out;
}

}  // namespace dgc
