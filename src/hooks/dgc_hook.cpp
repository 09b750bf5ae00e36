#include "dgc/hooks/dgc_hook.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "dgc/error.h"
#include "dgc/wire.h"
#include "hooks/dgc_bucket.h"

namespace dgc {

namespace {
const char* kFormatVersionKey = "dgc.format_version";
// The layout of what save() writes: 1 = the memory's u and v per tensor and the sampling
// position (archives without the key are version 1: they were written before it existed).
constexpr std::int64_t kStateFormatVersion = 1;
}  // namespace

DgcHook::DgcHook(Compressor compressor, DgcHookOptions options)
    : compressor_(std::move(compressor)), options_(options) {}

DgcHook::~DgcHook() = default;

void DgcHook::prepare(const std::vector<HookTensor>& tensors,
                      const std::vector<std::vector<std::size_t>>& buckets, Communicator& comm) {
  DGC_CHECK(compressor_.size() == 0, "the DGC hook needs a fresh compressor, this one has ",
            compressor_.size(), " tensor(s) registered");
  world_size_ = comm.size();
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

void DgcHook::run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) {
  detail::DgcBucket& b = *buckets_[bucket.index];
  b.begin_step(compressor_, options_, world_size_, /*all_dense=*/false, comm, name(), traffic);
  const auto& grads = *bucket.grads;
  if (!b.sparse.empty()) {
    // Section 8: the statistic is the mean over ranks of sum(g^2).
    const auto square_means = b.square_means(compressor_, grads, comm, traffic);
    b.compress(compressor_, grads, square_means);
    b.gather(comm, traffic);
  }
  if (!b.dense.empty()) {
    b.pack_dense(grads);
    b.fused.allreduce(comm, traffic);
  }
}

void DgcHook::finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) {
  buckets_[bucket.index]->decode(compressor_, world_size_, world_size_, "rank", out);
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
