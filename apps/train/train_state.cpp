#include "train_state.h"

#include <torch/torch.h>

#include "dgc/error.h"
#include "log/crc32c.h"

namespace dgc::train {

void save_state(torch::serialize::OutputArchive& archive, const Model& model,
                torch::optim::Optimizer& optimizer, const CommHook& hook) {
  torch::serialize::OutputArchive model_archive, optimizer_archive, hook_archive;
  model.module->save(model_archive);
  archive.write("model", model_archive);
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  if (hook.has_state()) {
    hook.save(hook_archive);
    archive.write(hook.name(), hook_archive);
  }
  archive.write("rng", at::detail::getDefaultCPUGenerator().get_state());
}

void load_state(torch::serialize::InputArchive& archive, const Model& model,
                torch::optim::Optimizer& optimizer, CommHook& hook) {
  load_model_state(archive, model);
  torch::serialize::InputArchive optimizer_archive, hook_archive;
  archive.read("optimizer", optimizer_archive);
  optimizer.load(optimizer_archive);
  if (hook.has_state()) {
    DGC_CHECK(archive.try_read(hook.name(), hook_archive), "the checkpoint holds no state of the '",
              hook.name(), "' exchange (it was written with another train.exchange)");
    hook.load(hook_archive);
  }
  // A fresh tensor: reading into a tensor that already holds an archive's storage tries to resize
  // that storage.
  torch::Tensor rng;
  archive.read("rng", rng);
  auto generator = at::detail::getDefaultCPUGenerator();
  generator.set_state(rng);
}

void load_model_state(torch::serialize::InputArchive& archive, const Model& model) {
  torch::serialize::InputArchive model_archive;
  archive.read("model", model_archive);
  model.module->load(model_archive);
}

namespace {
std::uint32_t digest_of(const std::vector<torch::Tensor>& tensors, std::uint32_t crc) {
  for (const auto& t : tensors) {
    const auto c = t.contiguous();
    crc = crc32c(c.data_ptr(), c.nbytes(), crc);
  }
  return crc;
}
}  // namespace

std::uint32_t model_digest(torch::nn::Module& model) {
  return digest_of(model.buffers(), digest_of(model.parameters(), 0));
}

std::uint32_t parameter_digest(torch::nn::Module& model) {
  return digest_of(model.parameters(), 0);
}

std::string first_non_finite_parameter(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (const auto& item : model.named_parameters()) {
    if (!torch::isfinite(item.value()).all().template item<bool>()) return item.key();
  }
  return "";
}

}  // namespace dgc::train
