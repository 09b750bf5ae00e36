// What a dgc-train checkpoint's archive holds, and the digests that tell whether two models are
// the same.
//
// The archive: the model's parameters and buffers, the inner optimizer's state, the exchange's
// state (DGC's memory) and the default CPU generator's state (dropout). The position in the run
// lives in the checkpoint's metadata (resume.h), not here. The sampler and the augmentation are
// functions of (seed, epoch, batch), so the position stands for them.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <cstdint>
#include <string>

#include "dgc/comm_hook.h"
#include "models/registry.h"

namespace dgc::train {

// The exchange's state (a stateful hook's, such as DGC's memory) is saved under the hook's name;
// loading it into another hook is a dgc::Error naming both.
void save_state(torch::serialize::OutputArchive& archive, const Model& model,
                torch::optim::Optimizer& optimizer, const CommHook& hook);
void load_state(torch::serialize::InputArchive& archive, const Model& model,
                torch::optim::Optimizer& optimizer, CommHook& hook);
// The model's part of the archive alone (evaluation).
void load_model_state(torch::serialize::InputArchive& archive, const Model& model);

// CRC-32C of every parameter and buffer, in registration order: two runs end with bitwise the
// same model exactly when these agree (checkpoint files cannot show it: the optimizer's state is
// keyed by tensor addresses, which differ from run to run).
std::uint32_t model_digest(torch::nn::Module& model);
// The same over the parameters alone: what every rank's replica must share (batch norm's running
// statistics are buffers, computed from each rank's own batches).
std::uint32_t parameter_digest(torch::nn::Module& model);

// The name of the first parameter holding a NaN or an infinity, or empty.
std::string first_non_finite_parameter(torch::nn::Module& model);

}  // namespace dgc::train
