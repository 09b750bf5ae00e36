#include "reference_step.h"

#include <vector>

namespace dgc::detail {

ReferenceSelection reference_step(const torch::Tensor& grad, torch::Tensor& momentum,
                                  torch::Tensor& velocity, const TensorPlan& plan,
                                  const StepParams& params, std::uint64_t draw) {
  torch::NoGradGuard no_grad;
  auto g = grad.reshape(-1);
  if (params.grad_scale != 1.0f) g = g.mul(params.grad_scale);
  if (params.grad_clamp > 0) g = g.clamp(-params.grad_clamp, params.grad_clamp);

  // memory.compensate(accumulate=True)
  auto u = momentum.view(-1);
  auto v = velocity.view(-1);
  const double m = params.momentum;
  if (params.nesterov) {
    u.add_(g).mul_(m);
    v.add_(u).add_(g);
  } else {
    u.mul_(m).add_(g);
    v.add_(u);
  }

  // _sparsify
  const std::int64_t n = plan.numel;
  const auto importance = v.abs();
  torch::Tensor samples;
  if (n == plan.num_samples) {
    samples = importance;
  } else if (params.strided_sample) {
    samples = importance.slice(0, strided_start(draw, plan.stride), n, plan.stride);
  } else {
    std::vector<std::int64_t> picks(static_cast<std::size_t>(plan.num_samples));
    for (std::int64_t k = 0; k < plan.num_samples; ++k)
      picks[static_cast<std::size_t>(k)] = sample_index(draw, k, n);
    samples = importance.index_select(0, torch::tensor(picks));
  }
  auto threshold = std::get<0>(torch::topk(samples, plan.top_k_samples, 0, true, false)).min();
  auto indices = importance.ge(threshold).nonzero().view(-1);
  std::int64_t num_indices = indices.numel();

  ReferenceSelection out;
  const std::int64_t num_selects = plan.num_selects;
  if (n > plan.num_samples) {
    for (int it = 0; it < params.max_adaptation_iters; ++it) {
      if (num_indices > num_selects) {
        if (static_cast<double>(num_indices) > static_cast<double>(num_selects) * params.upper) {
          if (params.resample) {
            const auto top =
                torch::topk(importance.index_select(0, indices), num_selects, 0, true, false);
            indices = indices.index_select(0, std::get<1>(top));
            out.adaptation_iters = it + 1;
            out.adaptation_exit = AdaptationExit::kResampled;
            break;
          }
          threshold = threshold * params.upper;
        } else {
          break;
        }
      } else if (static_cast<double>(num_indices) <
                 params.lower * static_cast<double>(num_selects)) {
        threshold = threshold * params.lower;
      } else {
        break;
      }
      indices = importance.ge(threshold).nonzero().view(-1);
      num_indices = indices.numel();
      out.adaptation_iters = it + 1;
    }
    if (out.adaptation_exit != AdaptationExit::kResampled) {
      if (static_cast<double>(num_indices) > static_cast<double>(num_selects) * params.upper) {
        out.adaptation_exit = AdaptationExit::kRanOutAbove;
      } else if (static_cast<double>(num_indices) <
                 params.lower * static_cast<double>(num_selects)) {
        out.adaptation_exit = AdaptationExit::kRanOutBelow;
      } else {
        out.adaptation_exit = AdaptationExit::kInBand;
      }
    }
  }
  indices = indices.slice(0, 0, num_selects);
  out.values = v.index_select(0, indices);
  out.indices = indices;

  // memory.update
  if (params.momentum_masking) u.index_fill_(0, indices, 0);
  v.index_fill_(0, indices, 0);
  return out;
}

}  // namespace dgc::detail
