#include "bucket_exchange.h"

#include <algorithm>

#include "dgc/error.h"

namespace dgc::detail {

void BucketExchange::plan_layout(const std::vector<BucketTensor>& tensors,
                                 const Compressor* compressor, DenseCompression dense_compression) {
  sparse_.clear();
  dense_slots_.clear();
  std::vector<std::int64_t> capacities;
  std::int64_t dense_numel = 0;
  for (std::size_t j = 0; j < tensors.size(); ++j) {
    if (compressor != nullptr && compressor->is_sparse(tensors[j].name)) {
      sparse_.push_back(j);
      capacities.push_back(compressor->plan(tensors[j].name).num_selects);
    } else {
      dense_slots_.push_back({j, dense_numel});
      dense_numel += tensors[j].numel;
    }
  }
  layout_ = compressor != nullptr ? plan_sparse_slots(capacities, compressor->wire_format())
                                  : SparseSlotLayout{};
  // Under DGC the compressor's wire format decides for its dense tensors too, like the original.
  const bool fp16 = compressor != nullptr ? compressor->wire_format().fp16_values
                                          : dense_compression == DenseCompression::kFp16;
  const auto dtype = fp16 ? torch::kHalf : torch::kFloat;
  if (!dense_.defined() || dense_.numel() != dense_numel || dense_.scalar_type() != dtype) {
    dense_ = torch::empty({dense_numel}, dtype);
  }
}

void BucketExchange::check_layout_agrees(Communicator& comm, std::int64_t dense_numel) const {
  constexpr int kFields = 4;
  const std::int64_t mine[kFields] = {static_cast<std::int64_t>(sparse_.size()), layout_.bytes,
                                      dense_numel, static_cast<std::int64_t>(dense_.scalar_type())};
  std::vector<std::int64_t> all(static_cast<std::size_t>(kFields) * world_size_);
  comm.allgather(mine, sizeof mine, all.data());
  const auto describe = [&](int r) {
    const std::int64_t* f = all.data() + static_cast<std::ptrdiff_t>(r) * kFields;
    return detail::concat("rank ", r, ": ", f[0], " sparse tensor(s) in slots of ", f[1],
                          " bytes, ", f[2], " dense element(s) of dtype ",
                          c10::toString(static_cast<torch::ScalarType>(f[3])));
  };
  for (int r = 1; r < world_size_; ++r) {
    DGC_CHECK(std::equal(all.begin(), all.begin() + kFields, all.begin() + r * kFields),
              "the ranks disagree on a bucket's exchange (", describe(0), "; ", describe(r),
              "): every rank must use the same compression settings and call set_epoch with the "
              "same epoch");
  }
}

void BucketExchange::launch(std::vector<BucketTensor>& tensors, Communicator& comm,
                            Compressor* compressor, DenseCompression dense_compression,
                            TrafficStats& traffic) {
  world_size_ = comm.size();
  plan_layout(tensors, compressor, dense_compression);
  if (!layout_checked_ && world_size_ > 1) {
    check_layout_agrees(comm, dense_.numel());
    layout_checked_ = true;
  }
  if (!sparse_.empty()) exchange_sparse(tensors, comm, *compressor, traffic);
  if (!dense_slots_.empty()) exchange_dense(tensors, comm, traffic);
}

void BucketExchange::exchange_sparse(std::vector<BucketTensor>& tensors, Communicator& comm,
                                     Compressor& compressor, TrafficStats& traffic) {
  const auto size = static_cast<std::size_t>(layout_.bytes);
  // Zeroed once, so that the unused tail of a slot never carries stale memory.
  if (send_.size() != size) send_.assign(size, 0);
  received_.resize(size * static_cast<std::size_t>(world_size_));

  std::vector<CompressJob> jobs;
  jobs.reserve(sparse_.size());
  for (std::size_t j = 0; j < sparse_.size(); ++j) {
    const auto& t = tensors[sparse_[j]];
    const auto& slot = layout_.tensors[j];
    jobs.push_back(
        {t.name, t.grad, send_.data() + slot.value_offset, send_.data() + slot.index_offset, 0});
  }
  if (compressor.memory().options().gradient_clipping.needs_global_statistics()) {
    // Section 8: the statistic is the mean over ranks of sum(g^2), one float per tensor.
    auto stats = torch::empty({static_cast<std::int64_t>(jobs.size())}, torch::kFloat);
    for (std::size_t j = 0; j < jobs.size(); ++j) {
      stats[static_cast<std::int64_t>(j)] = jobs[j].grad.square().sum();
    }
    comm.allreduce(stats, ReduceOp::kAverage);
    traffic.bytes_sent += stats.nbytes();
    traffic.bytes_received += stats.nbytes();
    const float* mean = stats.data_ptr<float>();
    for (std::size_t j = 0; j < jobs.size(); ++j) jobs[j].global_square_mean = mean[j];
  }
  compressor.compress_batch(jobs);
  for (std::size_t j = 0; j < jobs.size(); ++j) write_slot_count(send_.data(), j, jobs[j].count);
  comm.allgather(send_.data(), layout_.bytes, received_.data());
  traffic.bytes_sent += layout_.bytes;
  traffic.bytes_received += layout_.bytes * (world_size_ - 1);
}

void BucketExchange::exchange_dense(const std::vector<BucketTensor>& tensors, Communicator& comm,
                                    TrafficStats& traffic) {
  for (const auto& d : dense_slots_) {
    const auto& t = tensors[d.tensor];
    dense_.narrow(0, d.offset, t.numel).copy_(t.grad.reshape({-1}));
  }
  comm.allreduce(dense_.data_ptr(), dense_.numel(), dense_.scalar_type(), ReduceOp::kSum);
  traffic.bytes_sent += dense_.nbytes();
  traffic.bytes_received += dense_.nbytes();
}

void BucketExchange::finish(const std::vector<BucketTensor>& tensors, Compressor* compressor,
                            std::vector<torch::Tensor>& out) {
  // The peers' slots are untrusted: read_slices checks every count and decompress_into every
  // index before anything is written.
  for (std::size_t j = 0; j < sparse_.size(); ++j) {
    const auto& name = tensors[sparse_[j]].name;
    compressor->decompress_into(name, read_slices(received_.data(), layout_, j, world_size_, name),
                                world_size_, out[sparse_[j]].data_ptr<float>());
  }
  // Multiply by the reciprocal like the sparse path and the original (mul_(1 / world_size)).
  const double scale = 1.0 / static_cast<double>(world_size_);
  for (const auto& d : dense_slots_) {
    const auto& t = tensors[d.tensor];
    auto& g = out[d.tensor];
    g.view({-1}).copy_(dense_.narrow(0, d.offset, t.numel)).mul_(scale);
    if (compressor != nullptr) compressor->memory().compensate_dense_(t.name, g);
  }
}

}  // namespace dgc::detail
