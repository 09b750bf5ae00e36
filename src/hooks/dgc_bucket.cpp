#include "hooks/dgc_bucket.h"

#include "dgc/error.h"
#include "dgc/wire.h"

namespace dgc::detail {

void DgcBucket::plan(const Compressor& compressor, const DgcHookOptions& options, int senders,
                     bool all_dense) {
  sparse.clear();
  dense.clear();
  std::vector<std::int64_t> capacities;
  std::int64_t sparse_numel = 0;
  for (std::size_t j = 0; j < tensors.size(); ++j) {
    if (!all_dense && compressor.is_sparse(tensors[j])) {
      sparse.push_back(j);
      capacities.push_back(compressor.plan(tensors[j]).num_selects);
      sparse_numel += numels[j];
    } else {
      dense.push_back(j);
    }
  }
  const WireFormat& wire = compressor.wire_format();
  layout = sparse.empty() ? SparseSlotLayout{} : plan_sparse_slots(capacities, wire);
  // Every receiver ends up holding `senders` slots; the same tensors dense would be one buffer.
  fallback = options.dense_fallback && !sparse.empty() &&
             layout.bytes * senders > sparse_numel * wire.value_bytes();
  if (fallback) {
    dense.clear();
    for (std::size_t j = 0; j < tensors.size(); ++j) dense.push_back(j);
    sparse.clear();
    layout = SparseSlotLayout{};
  }
  std::vector<std::int64_t> dense_numels;
  for (const std::size_t j : dense) dense_numels.push_back(numels[j]);
  // The compressor's wire format decides for its dense tensors too, like the original.
  fused.plan(dense_numels, wire.fp16_values ? torch::kHalf : torch::kFloat);
  planned = true;
}

void DgcBucket::begin_step(const Compressor& compressor, const DgcHookOptions& options, int senders,
                           bool all_dense, Communicator& comm, const std::string& hook_name,
                           TrafficStats& traffic) {
  if (!planned) plan(compressor, options, senders, all_dense);
  if (!layout_checked && comm.size() > 1) {
    check_layouts_agree(comm, layout_record(hook_identity(hook_name)), hook_name, &describe);
    layout_checked = true;
  }
  if (fallback) ++traffic.dense_fallback_buckets;
}

BucketLayout DgcBucket::layout_record(std::int64_t hook_identity) const {
  return {hook_identity, static_cast<std::int64_t>(sparse.size()), layout.bytes,
          fused.numel(), static_cast<std::int64_t>(fused.dtype()), kWireFormatVersion};
}

std::string DgcBucket::describe(const BucketLayout& l) {
  return concat(l[1], " sparse tensor(s) in slots of ", l[2], " bytes, ", l[3],
                " dense element(s) of dtype ", c10::toString(static_cast<torch::ScalarType>(l[4])),
                ", wire format version ", l[5]);
}

std::vector<float> DgcBucket::square_means(const Compressor& compressor,
                                           const std::vector<torch::Tensor>& grads,
                                           ProcessGroup& group, TrafficStats& traffic) const {
  if (!compressor.memory().options().gradient_clipping.needs_global_statistics()) return {};
  auto stats = torch::empty({static_cast<std::int64_t>(sparse.size())}, torch::kFloat);
  for (std::size_t k = 0; k < sparse.size(); ++k) {
    stats[static_cast<std::int64_t>(k)] = grads[sparse[k]].square().sum();
  }
  group.allreduce(stats, ReduceOp::kAverage);
  traffic.bytes_sent += stats.nbytes();
  traffic.bytes_received += stats.nbytes();
  return {stats.data_ptr<float>(), stats.data_ptr<float>() + stats.numel()};
}

void DgcBucket::compress(Compressor& compressor, const std::vector<torch::Tensor>& grads,
                         const std::vector<float>& square_means) {
  const auto size = static_cast<std::size_t>(layout.bytes);
  // Zeroed once, so that the unused tail of a slot never carries stale memory.
  if (send.size() != size) send.assign(size, 0);
  std::vector<CompressJob> jobs(sparse.size());
  for (std::size_t k = 0; k < sparse.size(); ++k) {
    const auto& slot = layout.tensors[k];
    jobs[k].tensor = tensors[sparse[k]];
    jobs[k].grad = grads[sparse[k]];
    jobs[k].values = send.data() + slot.value_offset;
    jobs[k].indices = send.data() + slot.index_offset;
    if (!square_means.empty()) jobs[k].global_square_mean = square_means[k];
  }
  compressor.compress_batch(jobs);
  for (std::size_t k = 0; k < jobs.size(); ++k) write_slot_count(send.data(), k, jobs[k].count);
}

void DgcBucket::pack_dense(const std::vector<torch::Tensor>& grads) {
  for (std::size_t k = 0; k < dense.size(); ++k) fused.pack(k, grads[dense[k]]);
}

void DgcBucket::decode(Compressor& compressor, int senders, int world_size,
                       const std::vector<torch::Tensor>& out) {
  // The senders' slots are untrusted: read_slices checks every count and decompress_into every
  // index before anything is written.
  for (std::size_t k = 0; k < sparse.size(); ++k) {
    const std::size_t tensor = tensors[sparse[k]];
    compressor.decompress_into(
        tensor, read_slices(received.data(), layout, k, senders, compressor.name(tensor)), senders,
        out[sparse[k]].data_ptr<float>());
  }
  for (std::size_t k = 0; k < dense.size(); ++k) {
    torch::Tensor g = out[dense[k]];
    fused.average_into(k, world_size, g);
    compressor.memory().compensate_dense_(tensors[dense[k]], g);
  }
}

}  // namespace dgc::detail
