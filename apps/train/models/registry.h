// Models by name, for configs: "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"
// (CifarResNet) and "fmnist_convnet" (FmnistConvNet).
//
// make_model returns a Model: the module (for parameters, named_parameters, train/eval, to,
// save/load) and its forward. Why not torch::nn::AnyModule: its forward checks argument types at
// run time and returns through AnyValue, and every other use goes through .ptr(); here forward is
// statically typed and the module is a plain shared_ptr the optimizer and checkpoints take as is.
// The forward closure owns a reference to the module it was made with: replace both together.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dgc::train {

struct Model {
  std::shared_ptr<torch::nn::Module> module;
  std::function<torch::Tensor(const torch::Tensor&)> forward;
};

// The names make_model knows, in the order listed above.
const std::vector<std::string>& model_names();

// Builds a freshly initialized model (from torch's global generator: seed it first for
// reproducible weights). image_size (square inputs) matters only to fmnist_convnet, whose dense
// layer depends on it: 28 for Fashion-MNIST, 32 for CIFAR. An unknown name, or sizes the model
// cannot take, is a dgc::Error; the unknown-name message lists the known names.
Model make_model(const std::string& name, std::int64_t in_channels, std::int64_t num_classes,
                 std::int64_t image_size = 28);

}  // namespace dgc::train
