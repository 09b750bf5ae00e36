#include "dgc/memory.h"

#include "archive_read.h"
#include "dgc/error.h"
#include "sparsify_kernel.h"

namespace dgc {

namespace {
const char* kMomentumKey = "dgc.momentum.";
const char* kVelocityKey = "dgc.velocity.";
}  // namespace

Memory::Memory(MemoryOptions options) : options_(std::move(options)) { validate(options_); }

void Memory::add(const std::string& name, at::IntArrayRef shape) {
  DGC_CHECK(!contains(name), "tensor '", name, "' is registered twice");
  const auto zeros = [&] { return torch::zeros(shape, torch::kFloat); };
  buffers_.emplace(name, Buffers{zeros(), zeros()});
  names_.push_back(name);
}

bool Memory::contains(const std::string& name) const { return buffers_.count(name) != 0; }

Memory::Buffers& Memory::buffers(const std::string& name) {
  auto it = buffers_.find(name);
  DGC_CHECK(it != buffers_.end(), "tensor '", name, "' is not registered with the DGC memory");
  return it->second;
}

torch::Tensor& Memory::momentum(const std::string& name) { return buffers(name).momentum; }
torch::Tensor& Memory::velocity(const std::string& name) { return buffers(name).velocity; }

torch::Tensor Memory::compensate_dense(const std::string& name, const torch::Tensor& grad) {
  DGC_CHECK(grad.scalar_type() == torch::kFloat, "gradient of '", name, "' must be float32, got ",
            grad.scalar_type());
  auto out = grad.contiguous().clone();
  compensate_dense_(name, out);
  return out;
}

void Memory::compensate_dense_(const std::string& name, torch::Tensor& grad) {
  auto& u = momentum(name);
  DGC_CHECK(grad.scalar_type() == torch::kFloat && grad.is_contiguous(), "gradient of '", name,
            "' must be contiguous float32, got ", grad.scalar_type());
  DGC_CHECK(grad.numel() == u.numel(), "gradient of '", name, "' has ", grad.numel(),
            " elements, the tensor has ", u.numel());
  detail::StepParams params;
  params.momentum = static_cast<float>(options_.momentum);
  params.nesterov = options_.nesterov;
  float* g = grad.data_ptr<float>();
  if (!detail::dense_momentum(g, u.data_ptr<float>(), g, u.numel(), params)) {
    reset(name);
    DGC_FAIL("a NaN or Inf entered the DGC momentum of tensor '", name,
             "' (dense path): the averaged gradient diverged (a learning rate too high?)");
  }
}

void Memory::reset(const std::string& name) {
  auto& b = buffers(name);
  b.momentum.zero_();
  b.velocity.zero_();
}

void Memory::save(torch::serialize::OutputArchive& archive) const {
  for (const auto& name : names_) {
    const auto& b = buffers_.at(name);
    archive.write(kMomentumKey + name, b.momentum, /*is_buffer=*/true);
    archive.write(kVelocityKey + name, b.velocity, /*is_buffer=*/true);
  }
}

void Memory::load(torch::serialize::InputArchive& archive) {
  // Read and check everything before touching the live buffers.
  std::map<std::string, Buffers> loaded;
  for (const auto& name : names_) {
    Buffers b{detail::read_tensor(archive, kMomentumKey + name),
              detail::read_tensor(archive, kVelocityKey + name)};
    const auto& live = buffers_.at(name).momentum;
    for (const auto* t : {&b.momentum, &b.velocity}) {
      DGC_CHECK(t->sizes() == live.sizes() && t->scalar_type() == torch::kFloat,
                "saved DGC memory of tensor '", name, "' has shape ", t->sizes(), " and dtype ",
                t->scalar_type(), ", expected ", live.sizes(), " float32");
    }
    loaded.emplace(name, std::move(b));
  }
  for (auto& [name, b] : loaded) {
    buffers_.at(name).momentum.copy_(b.momentum);
    buffers_.at(name).velocity.copy_(b.velocity);
  }
}

}  // namespace dgc
