#include "dgc/memory.h"

#include <ATen/Parallel.h>

#include <atomic>
#include <cfloat>
#include <cmath>

#include "archive_read.h"
#include "dgc/error.h"
#include "momentum.h"

namespace dgc {

namespace {
const char* kMomentumKey = "dgc.momentum.";
const char* kVelocityKey = "dgc.velocity.";

// The dense path (section 5) over n floats: u updated, out = u (nesterov: u + g); `out` may be
// `grad`. Elementwise, so any split over threads gives the same bits. False when a u is not
// finite.
template <bool kNesterov>
bool dense_momentum(const float* grad, float* u, float* out, std::int64_t n, float m) {
  std::atomic<bool> finite{true};
  at::parallel_for(0, n, 1 << 15, [&](std::int64_t i0, std::int64_t i1) {
    bool ok = true;
    for (std::int64_t i = i0; i < i1; ++i) {
      const float g = grad[i];
      const float ui = detail::momentum_update<kNesterov>(g, u[i], m);
      u[i] = ui;
      out[i] = kNesterov ? ui + g : ui;
      ok &= std::fabs(ui) <= FLT_MAX;
    }
    if (!ok) finite.store(false, std::memory_order_relaxed);
  });
  return finite.load();
}
}  // namespace

Memory::Memory(MemoryOptions options) : options_(std::move(options)) { validate(options_); }

std::size_t Memory::add(const std::string& name, at::IntArrayRef shape) {
  DGC_CHECK(!contains(name), "tensor '", name, "' is registered twice");
  const auto zeros = [&] { return torch::zeros(shape, torch::kFloat); };
  buffers_.push_back(Buffers{zeros(), zeros()});
  names_.push_back(name);
  ids_.emplace(name, names_.size() - 1);
  return names_.size() - 1;
}

bool Memory::contains(const std::string& name) const { return ids_.count(name) != 0; }

std::size_t Memory::id(const std::string& name) const {
  auto it = ids_.find(name);
  DGC_CHECK(it != ids_.end(), "tensor '", name, "' is not registered with the DGC memory");
  return it->second;
}

Memory::Buffers& Memory::buffers(std::size_t tensor) {
  DGC_CHECK(tensor < buffers_.size(), "tensor handle ", tensor,
            " is not registered with the DGC memory");
  return buffers_[tensor];
}

torch::Tensor Memory::compensate_dense(const std::string& name, const torch::Tensor& grad) {
  DGC_CHECK(grad.scalar_type() == torch::kFloat, "gradient of '", name, "' must be float32, got ",
            grad.scalar_type());
  auto out = grad.contiguous().clone();
  compensate_dense_(name, out);
  return out;
}

void Memory::compensate_dense_(std::size_t tensor, torch::Tensor& grad) {
  auto& u = momentum(tensor);
  const std::string& name = names_[tensor];
  DGC_CHECK(grad.scalar_type() == torch::kFloat && grad.is_contiguous(), "gradient of '", name,
            "' must be contiguous float32, got ", grad.scalar_type());
  DGC_CHECK(grad.numel() == u.numel(), "gradient of '", name, "' has ", grad.numel(),
            " elements, the tensor has ", u.numel());
  const auto m = static_cast<float>(options_.momentum);
  float* g = grad.data_ptr<float>();
  const bool finite = options_.nesterov
                          ? dense_momentum<true>(g, u.data_ptr<float>(), g, u.numel(), m)
                          : dense_momentum<false>(g, u.data_ptr<float>(), g, u.numel(), m);
  if (!finite) {
    reset(tensor);
    DGC_FAIL("a NaN or Inf entered the DGC momentum of tensor '", name,
             "' (dense path): the averaged gradient diverged (a learning rate too high?)");
  }
}

void Memory::reset(std::size_t tensor) {
  auto& b = buffers(tensor);
  b.momentum.zero_();
  b.velocity.zero_();
}

void Memory::save(torch::serialize::OutputArchive& archive) const {
  for (std::size_t i = 0; i < names_.size(); ++i) {
    const std::string& name = names_[i];
    const auto& b = buffers_[i];
    archive.write(kMomentumKey + name, b.momentum, /*is_buffer=*/true);
    archive.write(kVelocityKey + name, b.velocity, /*is_buffer=*/true);
  }
}

void Memory::load(torch::serialize::InputArchive& archive) {
  // Read and check everything before touching the live buffers.
  std::vector<Buffers> loaded;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    const std::string& name = names_[i];
    Buffers b{detail::read_tensor(archive, kMomentumKey + name),
              detail::read_tensor(archive, kVelocityKey + name)};
    const auto& live = buffers_[i].momentum;
    for (const auto* t : {&b.momentum, &b.velocity}) {
      DGC_CHECK(t->sizes() == live.sizes() && t->scalar_type() == torch::kFloat,
                "saved DGC memory of tensor '", name, "' has shape ", t->sizes(), " and dtype ",
                t->scalar_type(), ", expected ", live.sizes(), " float32");
    }
    loaded.push_back(std::move(b));
  }
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    buffers_[i].momentum.copy_(loaded[i].momentum);
    buffers_[i].velocity.copy_(loaded[i].velocity);
  }
}

}  // namespace dgc
