#include "dgc/hooks/dgc_hook.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "dgc/error.h"
#include "dgc/wire.h"
#include "hooks/dgc_bucket.h"
#include "hooks/dgc_schemes.h"

namespace dgc {

namespace {
const char* kFormatVersionKey = "dgc.format_version";
// The layout of what save() writes: 1 = the memory's u and v per tensor and the sampling
// position (archives without the key are version 1: they were written before it existed).
constexpr std::int64_t kStateFormatVersion = 1;
}  // namespace

DgcHook::DgcHook(Compressor compressor, DgcHookOptions options)
    : DgcHook(std::move(compressor), options, DgcScheme::kAllgather) {}

DgcHook::DgcHook(Compressor compressor, DgcHookOptions options, DgcScheme scheme)
    : compressor_(std::move(compressor)), options_(options), scheme_(scheme) {}

DgcHook::~DgcHook() = default;

void DgcHook::prepare(const std::vector<HookTensor>& tensors,
                      const std::vector<std::vector<std::size_t>>& buckets, Communicator& comm) {
  DGC_CHECK(compressor_.size() == 0, "the DGC hook needs a fresh compressor, this one has ",
            compressor_.size(), " tensor(s) registered");
  world_size_ = comm.size();
  rank_ = comm.rank();
  node_size_ = comm.node().size();
  node_count_ = comm.node_count();
  for (const auto& t : tensors) compressor_.add(t.name, t.shape);
  compressor_.log_plans();
  buckets_.clear();
  for (const auto& handles : buckets) {
    auto bucket = std::make_unique<detail::DgcBucket>();
    bucket->tensors = handles;
    for (const std::size_t t : handles) bucket->numels.push_back(tensors[t].numel);
    buckets_.push_back(std::move(bucket));
  }
}

void DgcHook::plan_bucket(detail::DgcBucket& b, Communicator&) {
  // Who sends the messages a rank receives: every rank, every node, or about two messages'
  // worth for the reduce-scatter (the scatter's and the allgatherv's).
  const int senders = scheme_ == DgcScheme::kHierarchical    ? node_count_
                      : scheme_ == DgcScheme::kReduceScatter ? 2
                                                             : world_size_;
  // On a single node nothing leaves the machine: every tensor goes dense.
  b.plan(compressor_, options_, senders,
         /*all_dense=*/scheme_ == DgcScheme::kHierarchical && node_count_ == 1);
  b.scheme = scheme_;
  if (b.scheme == DgcScheme::kHierarchical) b.node_sum.plan(b.numels, torch::kFloat);
}

void DgcHook::run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) {
  detail::DgcBucket& b = *buckets_[bucket.index];
  if (!b.planned) plan_bucket(b, comm);
  b.begin_step(comm, name(), traffic);
  detail::run_scheme(b, {compressor_, world_size_, rank_, node_size_, node_count_}, *bucket.grads,
                     comm, traffic);
}

void DgcHook::finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) {
  detail::finish_scheme(*buckets_[bucket.index],
                        {compressor_, world_size_, rank_, node_size_, node_count_}, out);
}

std::vector<DgcScheme> DgcHook::bucket_schemes() const {
  std::vector<DgcScheme> out;
  for (const auto& b : buckets_) {
    out.push_back(b->sparse.empty() && b->scheme == DgcScheme::kAllgather ? DgcScheme::kDense
                                                                          : b->scheme);
  }
  return out;
}

double DgcHook::predict_step_seconds(const ExchangeCosts& costs) const {
  double seconds = 0;
  const auto schemes = bucket_schemes();
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    if (!buckets_[i]->planned) continue;
    seconds +=
        predict_seconds(schemes[i], buckets_[i]->bytes(compressor_), {world_size_, node_count_},
                        costs, options_.encoding, options_.hierarchical_allgather);
  }
  return seconds;
}

bool DgcHook::set_epoch(std::int64_t epoch) {
  const bool changed = compressor_.set_epoch(epoch);
  // The plans may change with the epoch: each bucket checks again that the ranks agree.
  for (auto& b : buckets_) {
    b->planned = b->planned && !changed;
    b->layout_checked = false;
  }
  return changed;
}

void DgcHook::save(torch::serialize::OutputArchive& archive) const {
  compressor_.save(archive);
  archive.write(kFormatVersionKey, torch::tensor(kStateFormatVersion), /*is_buffer=*/true);
}

void DgcHook::load(torch::serialize::InputArchive& archive) {
  torch::Tensor version;
  if (archive.try_read(kFormatVersionKey, version, /*is_buffer=*/true)) {
    DGC_CHECK(version.numel() == 1 && version.scalar_type() == torch::kLong &&
                  version.item<std::int64_t>() == kStateFormatVersion,
              "the DGC state in the checkpoint has format version ",
              version.numel() == 1 ? version.item().toLong() : -1, "; this dgc reads version ",
              kStateFormatVersion, " (a checkpoint from another dgc release?)");
  }
  compressor_.load(archive);
}

}  // namespace dgc
