#include "dgc/sgd.h"

#include <torch/optim/serialize.h>

#include "dgc/error.h"

namespace dgc {

namespace {
void check_options(const torch::optim::SGDOptions& o) {
  DGC_CHECK(o.lr() >= 0, "DGC-SGD: lr must be >= 0, got ", o.lr());
  DGC_CHECK(o.momentum() >= 0, "DGC-SGD: momentum must be >= 0, got ", o.momentum());
  DGC_CHECK(o.weight_decay() >= 0, "DGC-SGD: weight_decay must be >= 0, got ", o.weight_decay());
  DGC_CHECK(!o.nesterov() || (o.momentum() > 0 && o.dampening() == 0),
            "DGC-SGD: nesterov needs momentum > 0 and dampening 0");
}
}  // namespace

DGCSGD::DGCSGD(std::vector<torch::optim::OptimizerParamGroup> param_groups,
               torch::optim::SGDOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<torch::optim::SGDOptions>(defaults)) {
  check_options(defaults);
}

DGCSGD::DGCSGD(std::vector<torch::Tensor> params, torch::optim::SGDOptions defaults)
    : DGCSGD({torch::optim::OptimizerParamGroup(std::move(params))}, defaults) {}

torch::Tensor DGCSGD::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      torch::Tensor d = p.grad();
      if (o.weight_decay() != 0) {
        torch::Tensor decay = p.mul(o.weight_decay());
        if (o.momentum() != 0) {
          auto key = c10::guts::to_string(p.unsafeGetTensorImpl());
          torch::Tensor buf;
          auto it = state_.find(key);
          if (it == state_.end()) {
            buf = decay.clone().detach();
            auto state = std::make_unique<torch::optim::SGDParamState>();
            state->momentum_buffer(buf);
            state_[key] = std::move(state);
          } else {
            buf = static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer();
            buf.mul_(o.momentum()).add_(decay, 1 - o.dampening());
          }
          decay = o.nesterov() ? decay.add(buf, o.momentum()) : buf;
        }
        d = decay.add(d);
      }
      p.add_(d, -o.lr());
    }
  }
  return loss;
}

void DGCSGD::save(torch::serialize::OutputArchive& archive) const {
  torch::optim::serialize<torch::optim::SGDParamState, torch::optim::SGDOptions>(archive, *this);
}

void DGCSGD::load(torch::serialize::InputArchive& archive) {
  torch::optim::serialize<torch::optim::SGDParamState, torch::optim::SGDOptions>(archive, *this);
}

}  // namespace dgc
