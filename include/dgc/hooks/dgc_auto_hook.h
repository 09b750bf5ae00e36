// `dgc_auto`: DGC whose buckets each travel the way the cost model predicts to be fastest
// (include/dgc/exchange_cost.h): dense, the allgather of `dgc`, the hierarchical exchange of
// `dgc_hierarchical`, or the reduce-scatter of `dgc_reduce_scatter`. The choice is made when a
// bucket is planned (its first step, and after every change of the compress ratio), from the
// plans, the topology and the links' costs only, so every rank makes the same one; the ranks
// also check it with the bucket's layout.
//
// The candidates: dense always (unless DgcHookOptions::dense_fallback is false); the sparse
// schemes when the bucket has sparse tensors; the hierarchical one when there are several nodes
// of equal size; the reduce-scatter with encoded messages only. Ties go to the earlier of dense,
// allgather, reduce-scatter, hierarchical. DgcAutoOptions::force takes one scheme for every bucket
// instead (an error at prepare() when that scheme cannot run here).
//
// Memory: the hierarchical scheme keeps one DGC memory per node (every rank of the node holds
// the same); the flat schemes one per rank. A bucket planned hierarchical (first, or after a flat
// scheme) takes the node's mean of its ranks' memories (one node allreduce; the node's sum of
// residuals is kept); one that leaves it keeps the node's memory on every rank. State, checkpoints: as `dgc`, plus
// the measured costs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dgc/exchange_cost.h"
#include "dgc/hooks/dgc_hook.h"

namespace dgc {

struct DgcAutoOptions {
  // The links' costs; unset: measured once, at the first step (measure_exchange_costs).
  std::optional<ExchangeCosts> costs;
  // One scheme for every bucket instead of the model's choice.
  std::optional<DgcScheme> force;
};

class DGC_EXPORT DgcAutoHook : public DgcHook {
 public:
  // `compressor`: fresh, nothing registered.
  DgcAutoHook(Compressor compressor, DgcHookOptions options = {}, DgcAutoOptions choice = {});

  std::string name() const override { return "dgc_auto"; }
  // A forced scheme that cannot run here (hierarchical on uneven nodes, reduce-scatter with raw
  // slots) is a dgc::Error.
  void prepare(const std::vector<HookTensor>& tensors,
               const std::vector<std::vector<std::size_t>>& buckets, Communicator& comm) override;

  // The DGC state, and the measured costs once known: a resumed run chooses as the run it
  // continues (configured costs win over saved ones).
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  // The costs in use (after the first step when measured).
  const std::optional<ExchangeCosts>& costs() const { return costs_; }
  // One line per bucket planned so far: its choice and every candidate's predicted time.
  std::string describe_choices() const;

 protected:
  DGC_HIDDEN void plan_bucket(detail::DgcBucket& bucket, Communicator& comm) override;

 private:
  DgcAutoOptions choice_;
  std::optional<ExchangeCosts> costs_;
  bool nodes_uniform_ = true;
  std::vector<std::string> choices_;  // by bucket handle, "" until planned
};

}  // namespace dgc
