// DGC-SGD (ALGORITHM.md section 7): SGD whose gradient already carries the momentum.
//
// Under DGC the momentum is applied inside the compressor's memory (momentum correction), so this
// optimizer must not apply it to the gradient again. Weight decay is local and never
// communicated, with its own momentum buffer b:
//   d = wd * p;  b = d (first step) or m*b + (1 - dampening)*d;  d += m*b (nesterov) or d = b;
//   p -= lr * (d + grad)
// Options and per-parameter state are torch::optim::SGDOptions / SGDParamState, so schedulers
// and checkpoints treat it like torch::optim::SGD. Not thread-safe.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/archive.h>

#include <vector>

#include "dgc/export.h"

namespace dgc {

class DGC_EXPORT DGCSGD : public torch::optim::Optimizer {
 public:
  DGCSGD(std::vector<torch::optim::OptimizerParamGroup> param_groups,
         torch::optim::SGDOptions defaults);
  DGCSGD(std::vector<torch::Tensor> params, torch::optim::SGDOptions defaults);

  torch::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;
};

}  // namespace dgc
