// `dgc`: Deep Gradient Compression over one flat exchange (ALGORITHM.md sections 2-6, the
// original's Horovod exchange), and the base of the other DGC hooks (dgc_hierarchical,
// dgc_reduce_scatter, dgc_auto), which share its state and move the buckets another way
// (src/hooks/dgc_schemes.h).
//
// Per bucket and step, on the communication thread: the compressor selects each sparse tensor's
// entries (momentum correction, local accumulation, threshold from a sample); one allgatherv
// carries every rank's selections of the bucket as encoded blocks (or, with WireEncoding::kRaw,
// one allgather of the original's fixed-size slots; include/dgc/wire.h), and one allreduce carries
// the bucket's dense tensors (those with one dimension, and every tensor at a ratio >= 1).
// finish() sums the ranks' selections into the averaged gradient and gives the dense tensors the
// memory's momentum. Global clipping statistics cost one more small allreduce.
//
// Dense fallback: the allgather hands every rank world_size messages. When that is more bytes
// than the bucket's sparse tensors allreduced dense (the sparsity warm-up's ratios at a few ranks:
// 0.25 with raw int64 slots at 4 ranks is 3x the dense bytes), the bucket goes dense for the step,
// exactly as its tensors would at a ratio >= 1: allreduce-averaged, then the memory's momentum;
// their residuals wait in the memory for the next sparse step. An encoded message is weighed at
// its expected size at full capacity. The decision depends only on the plans and the world size,
// so every rank takes it alike; TrafficStats::dense_fallback_buckets counts it.
//
// State: the compressor's memory and sampling position, saved per rank (save/load) with a format
// version. The inner optimizer must not apply momentum (dgc::DGCSGD).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dgc/comm_hook.h"
#include "dgc/compressor.h"
#include "dgc/exchange_cost.h"
#include "dgc/export.h"

namespace dgc {

namespace detail {
struct DgcBucket;
}

struct DgcHookOptions {
  // A bucket whose allgathered slots would outweigh its dense allreduce goes dense for the step
  // (above) [true]. False keeps the sparse exchange at any ratio, as the original does.
  bool dense_fallback = true;
  // How the selections travel (include/dgc/wire.h) [kEncoded]. The compressor's int32_indices
  // applies to kRaw only; with kEncoded it is an error.
  WireEncoding encoding = WireEncoding::kEncoded;
  // The sparse messages' allgathers travel through the node leaders (Horovod's hierarchical
  // allgather): the allgather scheme's messages (`dgc`), and the reduce-scatter's kept sums
  // (`dgc_reduce_scatter`; its scatter stays flat). The node's messages go to its rank 0, one
  // allgather of whole nodes runs between the leaders, the node copies the result. Each host
  // link then carries every remote message once instead of once per rank of the node. The same
  // bytes arrive in the same order, so training is bitwise the same as without. It applies only
  // where there are several nodes and one of them has several ranks [false]. Every rank must
  // use the same value (the layout check names a rank that does not).
  bool hierarchical_allgather = false;
};

class DGC_EXPORT DgcHook : public CommHook {
 public:
  // `compressor`: fresh, nothing registered (prepare() registers every exchanged tensor).
  explicit DgcHook(Compressor compressor, DgcHookOptions options = {});
  ~DgcHook() override;

  std::string name() const override { return "dgc"; }
  void prepare(const std::vector<HookTensor>& tensors,
               const std::vector<std::vector<std::size_t>>& buckets, Communicator& comm) override;
  void run(const GradBucket& bucket, Communicator& comm, TrafficStats& traffic) override;
  void finish(const GradBucket& bucket, const std::vector<torch::Tensor>& out) override;
  // Sparsity warm-up; true when the compress ratio changed. Every bucket checks again that the
  // ranks agree on its layout.
  bool set_epoch(std::int64_t epoch) override;
  bool applies_momentum() const override { return true; }
  bool has_state() const override { return true; }
  void save(torch::serialize::OutputArchive& archive) const override;
  // An archive written by a newer format is a dgc::Error naming both versions.
  void load(torch::serialize::InputArchive& archive) override;

  Compressor& compressor() { return compressor_; }
  const Compressor& compressor() const { return compressor_; }
  const DgcHookOptions& options() const { return options_; }

  // The scheme each bucket took at its last step, by bucket handle (kDense: it went dense).
  std::vector<DgcScheme> bucket_schemes() const;
  // The cost model's seconds for the collectives of one step as the buckets are planned now
  // (include/dgc/exchange_cost.h), under `costs`.
  double predict_step_seconds(const ExchangeCosts& costs) const;

 protected:
  // For the hooks built on this one: the same state, another scheme for every bucket.
  DgcHook(Compressor compressor, DgcHookOptions options, DgcScheme scheme);
  // Plans a bucket whose plan is stale (the first step, a new ratio) and sets its scheme: the
  // hook's own by default. On the communication thread, alike on every rank; may communicate.
  DGC_HIDDEN virtual void plan_bucket(detail::DgcBucket& bucket, Communicator& comm);

  Compressor compressor_;
  DgcHookOptions options_;
  DgcScheme scheme_ = DgcScheme::kAllgather;
  int world_size_ = 1;
  int rank_ = 0;
  int node_size_ = 1;
  int node_count_ = 1;
  std::vector<std::unique_ptr<detail::DgcBucket>> buckets_;  // by bucket handle
};

}  // namespace dgc
