// Several tensors' gradients fused into one buffer of a wire dtype (float32, float16 or
// bfloat16) and summed over the ranks by one allreduce: the dense part of every hook
// (DESIGN.md "How it must perform": one collective per bucket, not one per tensor). Internal.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "dgc/comm_hook.h"
#include "dgc/process_group.h"

namespace dgc::detail {

class FusedDense {
 public:
  // The tensors (their element counts, in order) and the wire dtype; keeps the buffer when
  // nothing changed.
  void plan(const std::vector<std::int64_t>& numels, torch::ScalarType dtype);
  std::int64_t numel() const { return total_; }
  std::size_t size() const { return offsets_.size(); }
  torch::ScalarType dtype() const { return buffer_.scalar_type(); }

  // Copies tensor j's gradient in, rounding to the wire dtype.
  void pack(std::size_t j, const torch::Tensor& grad);
  std::int64_t bytes() const { return static_cast<std::int64_t>(buffer_.nbytes()); }
  // Tensor j's part of the buffer (a view).
  torch::Tensor slice(std::size_t j) const { return buffer_.narrow(0, offsets_[j], numels_[j]); }

  // Sums the buffer over the group's ranks, in place.
  void allreduce(ProcessGroup& group, TrafficStats& traffic);
  // Copies the root's buffer to the group's ranks; counted as node-local traffic.
  void broadcast(ProcessGroup& group, int root, TrafficStats& traffic);
  // out = tensor j's sum * (1 / world_size), in float32: multiplied by the reciprocal like the
  // sparse path and the original (mul_(1 / world_size)).
  void average_into(std::size_t j, int world_size, torch::Tensor& out) const;

 private:
  std::vector<std::int64_t> offsets_, numels_;
  std::int64_t total_ = 0;
  torch::Tensor buffer_;
};

}  // namespace dgc::detail
