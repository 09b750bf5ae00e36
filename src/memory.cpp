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
  detail::StepParams params;
  params.momentum = static_cast<float>(options_.momentum);
  params.nesterov = options_.nesterov;
  float* g = grad.data_ptr<float>();
  if (!detail::dense_momentum(g, u.data_ptr<float>(), g, u.numel(), params)) {
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
