// The DGC memory: per-tensor momentum `u` and velocity (accumulated residual) `v`
// (ALGORITHM.md sections 1, 4, 5 and 8).
//
// Every registered tensor owns u and v, zero at start and of the tensor's shape. The fused
// compression step updates them in place (see Compressor); this class owns them, applies the
// dense path's momentum, and saves / loads them. Not thread-safe: one thread uses it at a time.
#pragma once

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "dgc/export.h"
#include "dgc/options.h"

namespace dgc {

class DGC_EXPORT Memory {
 public:
  explicit Memory(MemoryOptions options = {});

  // Registers a tensor; its buffers are float32 zeros of `shape`. Throws on a repeated name.
  // Returns its handle: the registration order (0, 1, ...).
  std::size_t add(const std::string& name, at::IntArrayRef shape);
  bool contains(const std::string& name) const;
  const std::vector<std::string>& names() const { return names_; }

  // The buffers of a registered tensor, by name (dgc::Error naming an unknown tensor) or by
  // handle.
  torch::Tensor& momentum(const std::string& name) { return momentum(id(name)); }
  torch::Tensor& velocity(const std::string& name) { return velocity(id(name)); }
  torch::Tensor& momentum(std::size_t tensor) { return buffers(tensor).momentum; }
  torch::Tensor& velocity(std::size_t tensor) { return buffers(tensor).velocity; }

  // Dense path (section 5): `grad` is the allreduce-averaged gradient. Applies the momentum
  // (plain: u = m*u + g, returns u; nesterov: u = (u+g)*m, returns u + g) and returns a new
  // tensor, leaving `grad` untouched. A non-finite result resets u to zero and throws.
  torch::Tensor compensate_dense(const std::string& name, const torch::Tensor& grad);
  // The same in place: `grad` (float32, contiguous) becomes the result.
  void compensate_dense_(const std::string& name, torch::Tensor& grad) {
    compensate_dense_(id(name), grad);
  }
  void compensate_dense_(std::size_t tensor, torch::Tensor& grad);

  // Zeroes u and v of one tensor (used after a non-finite value was found there).
  void reset(const std::string& name) { reset(id(name)); }
  void reset(std::size_t tensor);

  // Saves u and v of every tensor under "dgc.momentum.<name>" / "dgc.velocity.<name>".
  void save(torch::serialize::OutputArchive& archive) const;
  // Loads what save() wrote. Every registered tensor must be present with its shape; on any
  // mismatch dgc::Error names the tensor and the memory is left as it was.
  void load(torch::serialize::InputArchive& archive);

  const MemoryOptions& options() const { return options_; }

 private:
  struct Buffers {
    torch::Tensor momentum;
    torch::Tensor velocity;
  };
  std::size_t id(const std::string& name) const;
  Buffers& buffers(std::size_t tensor);

  MemoryOptions options_;
  std::vector<std::string> names_;  // by handle
  std::vector<Buffers> buffers_;    // by handle
  std::map<std::string, std::size_t> ids_;
};

}  // namespace dgc
