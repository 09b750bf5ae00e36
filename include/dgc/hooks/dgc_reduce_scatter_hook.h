// `dgc_reduce_scatter`: DGC whose traffic per rank does not grow with the number of ranks (the
// split-and-reduce of Ok-Topk, Li and Hoefler, PPoPP'22, with fixed regions and a quota per
// region). Per bucket and step, on the communication thread:
//   1. every rank selects its entries as in `dgc` (momentum correction, local accumulation,
//      sampled threshold);
//   2. each sparse tensor's positions are split into world-size regions of equal length, region r
//      owned by rank r, and one alltoallv sends each owner the entries that fall in its region
//      (encoded blocks, include/dgc/wire.h);
//   3. each owner sums what it received per position, in rank order, and keeps the
//      ceil(capacity / world size) positions of largest |sum| (ties: the lower position; NaN
//      counts as the largest);
//   4. one allgatherv hands every rank every owner's kept sums.
// finish() writes the kept sums divided by the world size and zeros elsewhere; what this rank
// selected in step 1 at a position that no owner kept goes back into its DGC residual (the
// velocity), exactly as selected, to be sent in a later step. The dense tensors travel as in
// `dgc`.
//
// What changes against `dgc` (docs/SCALABLE_EXCHANGE.md): `dgc` applies the sum of every rank's
// selection, up to world size x capacity positions; this applies at most about `capacity`
// positions per tensor, the largest sums region by region, and keeps the rest in the residuals.
// The momentum of a selected entry stays masked (zeroed) when its value goes back (the
// original's momentum masking, applied at selection).
//
// Traffic per rank and step: about capacity entries out and in for the scatter when the
// selections spread evenly over the regions, and capacity entries in for the allgatherv,
// whatever the number of ranks (the allgather of `dgc` hands every rank world size x capacity).
// A region where every rank's selection concentrates makes its owner receive more (up to world
// size x capacity); the bench reports the largest rank's bytes beside the mean.
//
// Dense fallback: a bucket goes dense when twice its expected message outweighs its dense
// allreduce. Messages are always encoded (DgcHookOptions::encoding kRaw is an error). State,
// checkpoints and set_epoch: as `dgc`.
#pragma once

#include <string>
#include <vector>

#include "dgc/hooks/dgc_hook.h"

namespace dgc {

class DGC_EXPORT DgcReduceScatterHook : public DgcHook {
 public:
  // `compressor`: fresh, nothing registered.
  explicit DgcReduceScatterHook(Compressor compressor, DgcHookOptions options = {});

  std::string name() const override { return "dgc_reduce_scatter"; }
  // Raw slots are a dgc::Error.
  void prepare(const std::vector<HookTensor>& tensors,
               const std::vector<std::vector<std::size_t>>& buckets, Communicator& comm) override;
};

}  // namespace dgc
