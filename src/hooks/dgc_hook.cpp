#include "dgc/hooks/dgc_hook.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include "dgc/error.h"
#include "dgc/wire.h"
#include "hooks/fused_dense.h"
#include "hooks/layout_check.h"
#include "sparse_slots.h"

namespace dgc {

namespace {
const char* kFormatVersionKey = "dgc.format_version";
// The layout of what save() writes: 1 = the memory's u and v per tensor and the sampling
// position (archives without the key are version 1: they were written before it existed).
constexpr std::int64_t kStateFormatVersion = 1;
}  // namespace

struct DgcHook::Bucket {
  std::vector<std::size_t> tensors;  // handles, which are the compressor's, in bucket order
  std::vector<std::int64_t> numels;
  // What follows is planned for the ratio in force (plan()).
  bool planned = false;
  bool fallback = false;
  std::vector<std::size_t> sparse;  // positions in the bucket, in slot order
  std::vector<std::size_t> dense;   // positions in the bucket, in the fused buffer's order
  detail::SparseSlotLayout layout;
  detail::FusedDense fused;
  bool layout_checked = false;
  std::vector<std::uint8_t> send, received;  // this rank's slot; every rank's slots
};

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
    auto bucket = std::make_unique<Bucket>();
    bucket->tensors = handles;
    for (const std::size_t t : handles) bucket->numels.push_back(tensors[t].numel);
    buckets_.push_back(std::move(bucket));
  }
}

void DgcHook::plan(Bucket& b) const {
  b.sparse.clear();
  b.dense.clear();
  std::vector<std::int64_t> capacities;
  std::int64_t sparse_numel = 0;
  for (std::size_t j = 0; j < b.tensors.size(); ++j) {
    if (compressor_.is_sparse(b.tensors[j])) {
      b.sparse.push_back(j);
      capacities.push_back(compressor_.plan(b.tensors[j]).num_selects);
      sparse_numel += b.numels[j];
    } else {
      b.dense.push_back(j);
    }
  }
  const WireFormat& wire = compressor_.wire_format();
  b.layout =
      b.sparse.empty() ? detail::SparseSlotLayout{} : detail::plan_sparse_slots(capacities, wire);
  // Every rank ends up holding world_size slots; the same tensors dense would be one buffer.
  b.fallback = options_.dense_fallback && !b.sparse.empty() &&
               b.layout.bytes * world_size_ > sparse_numel * wire.value_bytes();
  if (b.fallback) {
    b.dense.clear();
    for (std::size_t j = 0; j < b.tensors.size(); ++j) b.dense.push_back(j);
    b.sparse.clear();
    b.layout = detail::SparseSlotLayout{};
  }
  std::vector<std::int64_t> dense_numels;
  for (const std::size_t j : b.dense) dense_numels.push_back(b.numels[j]);
  // The compressor's wire format decides for its dense tensors too, like the original.
  b.fused.plan(dense_numels, wire.fp16_values ? torch::kHalf : torch::kFloat);
  b.planned = true;
}

void DgcHook::run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) {
  Bucket& b = *buckets_[bucket.index];
  if (!b.planned) plan(b);
  if (!b.layout_checked && comm.size() > 1) {
    const detail::BucketLayout mine{detail::hook_identity(name()),
                                    static_cast<std::int64_t>(b.sparse.size()),
                                    b.layout.bytes,
                                    b.fused.numel(),
                                    static_cast<std::int64_t>(b.fused.dtype()),
                                    kWireFormatVersion};
    detail::check_layouts_agree(comm, mine, name(), [](const detail::BucketLayout& l) {
      return detail::concat(l[1], " sparse tensor(s) in slots of ", l[2], " bytes, ", l[3],
                            " dense element(s) of dtype ",
                            c10::toString(static_cast<torch::ScalarType>(l[4])),
                            ", wire format version ", l[5]);
    });
    b.layout_checked = true;
  }
  const auto& grads = *bucket.grads;
  if (b.fallback) ++traffic.dense_fallback_buckets;

  if (!b.sparse.empty()) {
    const auto size = static_cast<std::size_t>(b.layout.bytes);
    // Zeroed once, so that the unused tail of a slot never carries stale memory.
    if (b.send.size() != size) b.send.assign(size, 0);
    b.received.resize(size * static_cast<std::size_t>(world_size_));
    std::vector<CompressJob> jobs(b.sparse.size());
    for (std::size_t k = 0; k < b.sparse.size(); ++k) {
      const auto& slot = b.layout.tensors[k];
      jobs[k].tensor = b.tensors[b.sparse[k]];
      jobs[k].grad = grads[b.sparse[k]];
      jobs[k].values = b.send.data() + slot.value_offset;
      jobs[k].indices = b.send.data() + slot.index_offset;
    }
    if (compressor_.memory().options().gradient_clipping.needs_global_statistics()) {
      // Section 8: the statistic is the mean over ranks of sum(g^2), one float per tensor.
      auto stats = torch::empty({static_cast<std::int64_t>(jobs.size())}, torch::kFloat);
      for (std::size_t k = 0; k < jobs.size(); ++k) {
        stats[static_cast<std::int64_t>(k)] = jobs[k].grad.square().sum();
      }
      comm.allreduce(stats, ReduceOp::kAverage);
      traffic.bytes_sent += stats.nbytes();
      traffic.bytes_received += stats.nbytes();
      const float* mean = stats.data_ptr<float>();
      for (std::size_t k = 0; k < jobs.size(); ++k) jobs[k].global_square_mean = mean[k];
    }
    compressor_.compress_batch(jobs);
    for (std::size_t k = 0; k < jobs.size(); ++k) {
      detail::write_slot_count(b.send.data(), k, jobs[k].count);
    }
    comm.allgather(b.send.data(), b.layout.bytes, b.received.data());
    traffic.bytes_sent += b.layout.bytes;
    traffic.bytes_received += b.layout.bytes * (world_size_ - 1);
  }
  if (!b.dense.empty()) {
    for (std::size_t k = 0; k < b.dense.size(); ++k) b.fused.pack(k, grads[b.dense[k]]);
    b.fused.allreduce(comm, traffic);
  }
}

void DgcHook::finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) {
  Bucket& b = *buckets_[bucket.index];
  // The peers' slots are untrusted: read_slices checks every count and decompress_into every
  // index before anything is written.
  for (std::size_t k = 0; k < b.sparse.size(); ++k) {
    const std::size_t tensor = b.tensors[b.sparse[k]];
    compressor_.decompress_into(
        tensor,
        detail::read_slices(b.received.data(), b.layout, k, world_size_, compressor_.name(tensor)),
        world_size_, out[b.sparse[k]].data_ptr<float>());
  }
  for (std::size_t k = 0; k < b.dense.size(); ++k) {
    torch::Tensor g = out[b.dense[k]];
    b.fused.average_into(k, world_size_, g);
    compressor_.memory().compensate_dense_(b.tensors[b.dense[k]], g);
  }
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
