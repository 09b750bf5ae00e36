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
  buffer_.narrow(0, offsets_[j], numels_[j]).copy_(grad.reshape({-1}));
}

void FusedDense::allreduce(Communicator& comm, TrafficStats& traffic) {
  comm.allreduce(buffer_.data_ptr(), total_, buffer_.scalar_type(), ReduceOp::kSum);
  traffic.bytes_sent += buffer_.nbytes();
  traffic.bytes_received += buffer_.nbytes();
}

void FusedDense::average_into(std::size_t j, int world_size, torch::Tensor& out) const {
  const double scale = 1.0 / static_cast<double>(world_size);
  out.view({-1}).copy_(buffer_.narrow(0, offsets_[j], numels_[j])).mul_(scale);
}

}  // namespace dgc::detail
