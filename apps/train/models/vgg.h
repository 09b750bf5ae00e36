// VGG (Simonyan and Zisserman 2015, table 1) exactly as torchvision 0.14 builds it
// (torchvision/models/vgg.py), batch norm optional: the DGC paper's fully-connected-heavy case
// (VGG-16-BN: 138,365,992 parameters, 74% of them in classifier.0, 25088 x 4096).
//   features: the configuration's 3x3 convs (padding 1, with bias), each followed by
//     BatchNorm2d (if batch_norm) and ReLU, and a 2x2 max pooling after each group; depth 11, 13,
//     16, 19 are configurations A, B, D, E (16: 64 64 M 128 128 M 256x3 M 512x3 M 512x3 M).
//   AdaptiveAvgPool2d(7, 7): any input of at least 32x32 gives 512x7x7.
//   classifier: Linear(25088, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Dropout,
//     Linear(4096, num_classes).
// ReLU, max pooling and dropout are modules of the Sequentials (as in torchvision) so that the
// indices, and with them the names, are torchvision's state_dict keys: features.0.weight,
// features.1.running_mean, ..., features.41.*, classifier.{0,3,6}.{weight,bias}.
//
// Init as torchvision: convolutions kaiming-normal (fan_out, relu) with bias 0, batch norm 1 and
// 0, linear layers normal(0, 0.01) with bias 0. Dropout is active only in train mode.
// Not thread-safe, like any libtorch module.
#pragma once

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

namespace dgc::train {

struct VggOptions {
  /* implicit */ VggOptions(std::int64_t depth = 16) : depth_(depth) {}
  // 11, 13, 16 or 19; anything else is a dgc::Error.
  TORCH_ARG(std::int64_t, depth);
  TORCH_ARG(bool, batch_norm) = true;
  TORCH_ARG(std::int64_t, in_channels) = 3;
  TORCH_ARG(std::int64_t, num_classes) = 1000;
  // The probability of both classifier dropouts; in [0, 1).
  TORCH_ARG(double, dropout) = 0.5;
};

class VggImpl : public torch::nn::Module {
 public:
  explicit VggImpl(const VggOptions& options = {});

  // x: [N, in_channels, H, W] with H, W >= 32 -> logits [N, num_classes].
  torch::Tensor forward(const torch::Tensor& x);

  const VggOptions& options() const { return options_; }

 private:
  VggOptions options_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};
TORCH_MODULE(Vgg);

}  // namespace dgc::train
