#include "hooks/dgc_bucket.h"

#include <algorithm>
#include <cstring>

#include "dgc/error.h"
#include "dgc/timeline.h"
#include "dgc/wire.h"
#include "hooks/dgc_schemes.h"
#include "leaders_allgather.h"
#include "wire_codec.h"

namespace dgc::detail {

DgcBucket::DgcBucket() = default;
DgcBucket::~DgcBucket() = default;

void DgcBucket::plan(const Compressor& compressor, const DgcHookOptions& options, int senders,
                     bool all_dense) {
  sparse.clear();
  dense.clear();
  encoding = options.encoding;
  hierarchical_allgather = options.hierarchical_allgather;
  const WireFormat& wire = compressor.wire_format();
  DGC_CHECK(!(encoding == WireEncoding::kEncoded && wire.int32_indices),
            "int32_indices applies to the raw wire format only; encoded messages code their "
            "indices themselves (turn int32_indices off, or choose the raw encoding)");
  std::vector<std::int64_t> capacities, sparse_numels;
  std::int64_t sparse_numel = 0;
  for (std::size_t j = 0; j < tensors.size(); ++j) {
    if (!all_dense && compressor.is_sparse(tensors[j])) {
      sparse.push_back(j);
      capacities.push_back(compressor.plan(tensors[j]).num_selects);
      sparse_numels.push_back(numels[j]);
      sparse_numel += numels[j];
    } else {
      dense.push_back(j);
    }
  }
  layout = SparseSlotLayout{};
  message_bytes = 0;
  if (!sparse.empty() && encoding == WireEncoding::kRaw) {
    layout = plan_sparse_slots(capacities, wire);
    message_bytes = layout.bytes;
  } else if (!sparse.empty()) {
    message_bytes = expected_message_bytes(capacities, sparse_numels, value_type_of(wire));
  }
  // Every receiver ends up holding `senders` messages; the same tensors dense would be one
  // buffer.
  message.plan(encoding == WireEncoding::kEncoded ? capacities : std::vector<std::int64_t>{},
               encoding == WireEncoding::kEncoded ? sparse_numels : std::vector<std::int64_t>{},
               value_type_of(wire));
  sparse_names.clear();
  for (const std::size_t j : sparse) sparse_names.push_back(compressor.name(tensors[j]));
  std::vector<std::int64_t> dense_numels;
  for (const std::size_t j : dense) dense_numels.push_back(numels[j]);
  // The compressor's wire format decides for its dense tensors too, like the original.
  fused.plan(dense_numels, wire.value_dtype());
  fallback = false;
  planned = true;
  if (options.dense_fallback && !sparse.empty() &&
      message_bytes * senders > sparse_numel * wire.value_bytes()) {
    go_dense(compressor);
  }
}

void DgcBucket::go_dense(const Compressor& compressor) {
  fallback = !sparse.empty();
  dense.clear();
  for (std::size_t j = 0; j < tensors.size(); ++j) dense.push_back(j);
  sparse.clear();
  sparse_names.clear();
  layout = SparseSlotLayout{};
  message_bytes = 0;
  message.plan({}, {}, message.value_type());
  fused.plan(numels, compressor.wire_format().value_dtype());
}

BucketBytes DgcBucket::bytes(const Compressor& compressor) const {
  const std::int64_t value_bytes = compressor.wire_format().value_bytes();
  BucketBytes b;
  for (const std::int64_t n : numels) {
    b.dense += n * value_bytes;
    b.node_sum += n * 4;
  }
  b.message = message_bytes;
  for (const std::size_t j : dense) b.one_dim += numels[j] * value_bytes;
  return b;
}

void DgcBucket::begin_step(Communicator& comm, const std::string& hook_name,
                           TrafficStats& traffic) {
  if (!layout_checked && comm.size() > 1) {
    check_layouts_agree(comm, layout_record(hook_identity(hook_name)), hook_name, &describe);
    layout_checked = true;
  }
  if (fallback) ++traffic.dense_fallback_buckets;
}

BucketLayout DgcBucket::layout_record(std::int64_t hook_identity) const {
  std::int64_t capacity = 0;
  for (std::size_t k = 0; k < message.size(); ++k) capacity += message.capacity(k);
  return {
      hook_identity,
      static_cast<std::int64_t>(sparse.size()),
      encoding == WireEncoding::kRaw ? layout.bytes : capacity,
      fused.numel(),
      static_cast<std::int64_t>(fused.dtype()),
      kWireFormatVersion,
      static_cast<std::int64_t>(encoding) * 16 + static_cast<std::int64_t>(message.value_type()),
      static_cast<std::int64_t>(scheme) + 16 * static_cast<std::int64_t>(hierarchical_allgather)};
}

std::string DgcBucket::describe(const BucketLayout& l) {
  const bool raw = l[6] / 16 == static_cast<std::int64_t>(WireEncoding::kRaw);
  return concat(scheme_name(static_cast<DgcScheme>(l[7] % 16)),
                l[7] / 16 != 0 ? " through the node leaders" : "", ", ", l[1], " sparse tensor(s) ",
                raw ? concat("in raw slots of ", l[2], " bytes")
                    : concat("encoded, ", l[2], " entries in all, values ",
                             value_type_name(static_cast<ValueType>(l[6] % 16))),
                ", ", l[3], " dense element(s) of dtype ",
                c10::toString(static_cast<torch::ScalarType>(l[4])), ", wire format version ",
                l[5]);
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
  const TimelineSpan span("compress", "dgc");
  const bool raw = encoding == WireEncoding::kRaw;
  const auto size = static_cast<std::size_t>(layout.bytes);
  // Zeroed once, so that the unused tail of a slot never carries stale memory.
  if (raw && send.size() != size) send.assign(size, 0);
  std::vector<CompressJob> jobs(sparse.size());
  for (std::size_t k = 0; k < sparse.size(); ++k) {
    jobs[k].tensor = tensors[sparse[k]];
    jobs[k].grad = grads[sparse[k]];
    if (raw) {
      jobs[k].values = send.data() + layout.tensors[k].value_offset;
      jobs[k].indices = send.data() + layout.tensors[k].index_offset;
    } else {
      jobs[k].values = message.values(k);
      jobs[k].indices = message.indices(k);
      jobs[k].raw = true;
    }
    if (!square_means.empty()) jobs[k].global_square_mean = square_means[k];
  }
  compressor.compress_batch(jobs);
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    if (raw) {
      write_slot_count(send.data(), k, jobs[k].count);
    } else {
      message.set_count(k, jobs[k].count);
    }
  }
}

void DgcBucket::gather(ProcessGroup& group, TrafficStats& traffic) {
  encode_message();
  const auto sent = static_cast<std::int64_t>(send.size());
  if (encoding == WireEncoding::kRaw) {
    received.resize(send.size() * static_cast<std::size_t>(group.size()));
    group.allgather(send.data(), sent, received.data());
    received_bytes.assign(static_cast<std::size_t>(group.size()), sent);
  } else {
    group.allgatherv(send.data(), sent, received_bytes, received);
  }
  traffic.bytes_sent += sent;
  traffic.bytes_received += static_cast<std::int64_t>(received.size()) - sent;
}

void DgcBucket::encode_message() {
  if (encoding == WireEncoding::kEncoded) {
    const TimelineSpan span("encode", "dgc");
    message.encode(send);
  }
}

void DgcBucket::gather_through_leaders(Communicator& comm, TrafficStats& traffic) {
  encode_message();
  traffic.add(comm.allgatherv_through_leaders(send.data(), static_cast<std::int64_t>(send.size()),
                                              received_bytes, received));
  if (encoding != WireEncoding::kRaw) return;
  for (int r = 0; r < comm.size(); ++r) {
    DGC_CHECK(received_bytes[r] == layout.bytes, "node ", comm.node_of(r),
              "'s leader sent a raw slot of ", received_bytes[r], " bytes for rank ", r,
              ", expected ", layout.bytes);
  }
}

void DgcBucket::share(ProcessGroup& group, int senders, TrafficStats& traffic) {
  std::int64_t shared = 0;
  if (encoding == WireEncoding::kEncoded) {
    // The sizes first: the group's other ranks learn how much the root gathered.
    received_bytes.resize(static_cast<std::size_t>(senders));
    shared = broadcast_sized(group, received_bytes, received);
  } else {
    received.resize(send.size() * static_cast<std::size_t>(senders));
    received_bytes.assign(static_cast<std::size_t>(senders), layout.bytes);
    shared = static_cast<std::int64_t>(received.size());
    group.broadcast(received.data(), shared, 0);
  }
  (group.rank() == 0 ? traffic.bytes_sent : traffic.bytes_received) += shared;
  traffic.intra_node_bytes += shared;
}

void DgcBucket::pack_dense(const std::vector<torch::Tensor>& grads) {
  for (std::size_t k = 0; k < dense.size(); ++k) fused.pack(k, grads[dense[k]]);
}

void DgcBucket::decode(Compressor& compressor, int senders, int world_size, const char* senders_are,
                       const std::vector<torch::Tensor>& out) {
  // The senders' messages are untrusted: every count and index is checked before anything is
  // written (read_slices and decompress_into for the slots, SparseMessage::decode for blocks).
  const TimelineSpan span("decode", "dgc");
  if (encoding == WireEncoding::kEncoded && !sparse.empty()) {
    message.decode(received.data(), received_bytes, sparse_names, senders_are);
  }
  for (std::size_t k = 0; k < sparse.size(); ++k) {
    const std::size_t tensor = tensors[sparse[k]];
    float* into = out[sparse[k]].data_ptr<float>();
    if (encoding == WireEncoding::kRaw) {
      compressor.decompress_into(
          tensor, read_slices(received.data(), layout, k, senders, compressor.name(tensor)),
          senders, into);
    } else {
      // The same sum, in the same order, as from the slots: bitwise the same gradient.
      decode_average(message.slices(k), WireFormat{}, numels[sparse[k]], senders, sparse_names[k],
                     /*slices_are_ranks=*/false, into);
    }
  }
  decode_dense(compressor, world_size, out);
}

void DgcBucket::decode_dense(Compressor& compressor, int world_size,
                             const std::vector<torch::Tensor>& out) {
  for (std::size_t k = 0; k < dense.size(); ++k) {
    torch::Tensor g = out[dense[k]];
    fused.average_into(k, world_size, g);
    compressor.memory().compensate_dense_(tensors[dense[k]], g);
  }
}

}  // namespace dgc::detail
