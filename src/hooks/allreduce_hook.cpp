#include "dgc/hooks/allreduce_hook.h"

#include "dgc/error.h"
#include "hooks/fused_dense.h"
#include "hooks/layout_check.h"

namespace dgc {

AllreduceHook::AllreduceHook(torch::ScalarType wire_dtype) : wire_dtype_(wire_dtype) {
  DGC_CHECK(
      wire_dtype == torch::kFloat || wire_dtype == torch::kHalf || wire_dtype == torch::kBFloat16,
      "the dense allreduce sends float32, float16 or bfloat16, not ", wire_dtype);
}

AllreduceHook::~AllreduceHook() = default;

std::string AllreduceHook::name() const {
  switch (wire_dtype_) {
    case torch::kHalf:
      return "fp16";
    case torch::kBFloat16:
      return "bf16";
    default:
      return "allreduce";
  }
}

void AllreduceHook::prepare(const std::vector<HookTensor>& tensors,
                            const std::vector<std::vector<std::size_t>>& buckets,
                            Communicator& comm) {
  world_size_ = comm.size();
  buckets_.assign(buckets.size(), detail::FusedDense());
  layout_checked_.assign(buckets.size(), false);
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    std::vector<std::int64_t> numels;
    for (const std::size_t t : buckets[b]) numels.push_back(tensors[t].numel);
    buckets_[b].plan(numels, wire_dtype_);
  }
}

void AllreduceHook::run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) {
  detail::FusedDense& fused = buckets_[bucket.index];
  if (!layout_checked_[bucket.index] && comm.size() > 1) {
    const detail::BucketLayout mine{detail::hook_identity(name()), fused.numel()};
    detail::check_layouts_agree(comm, mine, name(), [](const detail::BucketLayout& l) {
      return detail::concat(l[1], " element(s)");
    });
    layout_checked_[bucket.index] = true;
  }
  for (std::size_t j = 0; j < fused.size(); ++j) fused.pack(j, (*bucket.grads)[j]);
  fused.allreduce(comm, traffic);
}

void AllreduceHook::finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) {
  const detail::FusedDense& fused = buckets_[bucket.index];
  for (std::size_t j = 0; j < fused.size(); ++j) {
    torch::Tensor g = out[j];
    fused.average_into(j, world_size_, g);
  }
}

std::unique_ptr<AllreduceHook> make_allreduce_hook(const std::string& name) {
  if (name == "allreduce") return std::make_unique<AllreduceHook>(torch::kFloat);
  if (name == "fp16") return std::make_unique<AllreduceHook>(torch::kHalf);
  if (name == "bf16") return std::make_unique<AllreduceHook>(torch::kBFloat16);
  DGC_FAIL("unknown dense exchange '", name, "' (allreduce, fp16 or bf16)");
}

}  // namespace dgc
