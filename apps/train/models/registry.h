// Models by name, for configs: "resnet20", "resnet32", "resnet44", "resnet56", "resnet110"
// (CifarResNet), "fmnist_convnet" (FmnistConvNet), and torchvision's ImageNet models "resnet18",
// "resnet50" (ImageNetResNet) and "vgg16_bn" (Vgg).
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

// What make_model builds. A struct, so that options can be added without touching its callers.
struct ModelSpec {
  std::string name;  // one of model_names()
  std::int64_t in_channels = 3;
  std::int64_t num_classes = 10;
  // Height = width of the inputs. Matters only to fmnist_convnet, whose dense layer depends on it
  // (28 for Fashion-MNIST, 32 for CIFAR); the ResNets pool globally and VGG adaptively.
  std::int64_t image_size = 28;
  // The ResNets only (CIFAR and ImageNet): each block's last batch-norm weight starts at 0, so
  // every residual block starts as the identity (Goyal et al. 2017, section 5.1). true for a
  // model without residual blocks (fmnist_convnet, vgg16_bn) is a dgc::Error naming the config
  // key model.zero_init_residual.
  bool zero_init_residual = false;
};

// Builds a freshly initialized model (from torch's global generator: seed it first for
// reproducible weights). An unknown name, or sizes the model cannot take, is a dgc::Error; the
// unknown-name message lists the known names.
Model make_model(const ModelSpec& spec);

}  // namespace dgc::train
