#include "hooks/fused_dense.h"

namespace dgc::detail {

void FusedDense::plan(const std::vector<std::int64_t>& numels, torch::ScalarType dtype) {
  numels_ = numels;
  offsets_.clear();
  total_ = 0;
  for (const std::int64_t n : numels_) {
    offsets_.push_back(total_);
    total_ += n;
  }
  if (!buffer_.defined() || buffer_.numel() != total_ || buffer_.scalar_type() != dtype) {
    buffer_ = torch::empty({total_}, dtype);
  }
}

void FusedDense::pack(std::size_t j, const torch::Tensor& grad) {
  slice(j).copy_(grad.reshape({-1}));
}

void FusedDense::allreduce(ProcessGroup& group, TrafficStats& traffic) {
  group.allreduce(buffer_.data_ptr(), total_, buffer_.scalar_type(), ReduceOp::kSum);
  traffic.bytes_sent += bytes();
  traffic.bytes_received += bytes();
}

void FusedDense::broadcast(ProcessGroup& group, int root, TrafficStats& traffic) {
  group.broadcast(buffer_.data_ptr(), bytes(), root);
  (group.rank() == root ? traffic.bytes_sent : traffic.bytes_received) += bytes();
  traffic.intra_node_bytes += bytes();
}

void FusedDense::average_into(std::size_t j, int world_size, torch::Tensor& out) const {
  const double scale = 1.0 / static_cast<double>(world_size);
  out.view({-1}).copy_(slice(j)).mul_(scale);
}

}  // namespace dgc::detail
