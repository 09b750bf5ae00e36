// The dense baselines: every gradient allreduce-averaged, in float32 (`allreduce`, DDP's and
// Horovod's default), or rounded to float16 (`fp16`: Horovod's Compression.fp16, PyTorch's
// fp16_compress_hook) or bfloat16 (`bf16`: PyTorch's bf16_compress_hook) for the wire.
//
// One allreduce per bucket over a buffer that fuses all its tensors. The sum runs in the wire
// dtype, as it would on a GPU (float16 and bfloat16 partial sums are computed in float and
// rounded at each step), and the average is the sum times 1 / world size, computed in float32.
// The three differ only in the wire dtype, so they are one class (as c10d's two compress hooks
// share one function); make_allreduce_hook picks it by name. Stateless: nothing to checkpoint.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "dgc/comm_hook.h"
#include "dgc/export.h"

namespace dgc {

namespace detail {
class FusedDense;
}

class DGC_EXPORT AllreduceHook : public CommHook {
 public:
  // `wire_dtype`: torch::kFloat, torch::kHalf or torch::kBFloat16 (anything else is a
  // dgc::Error).
  explicit AllreduceHook(torch::ScalarType wire_dtype = torch::kFloat);
  ~AllreduceHook() override;

  // "allreduce", "fp16" or "bf16".
  std::string name() const override;
  void prepare(const std::vector<HookTensor>& tensors,
               const std::vector<std::vector<std::size_t>>& buckets, Communicator& comm) override;
  void run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) override;
  void finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) override;

  torch::ScalarType wire_dtype() const { return wire_dtype_; }

 private:
  torch::ScalarType wire_dtype_;
  int world_size_ = 1;
  std::vector<detail::FusedDense> buckets_;  // by bucket handle
  std::vector<bool> layout_checked_;
};

// "allreduce", "fp16" or "bf16"; anything else is a dgc::Error listing those.
DGC_EXPORT std::unique_ptr<AllreduceHook> make_allreduce_hook(const std::string& name);

}  // namespace dgc
