// What the model files share: the ResNets' initialization and the shape text of error messages.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>

namespace dgc::train::detail {

// torchvision's and the seed's ResNet init: every convolution kaiming_normal_(fan_out, relu),
// every batch norm weight 1 and bias 0; Linear layers keep the framework's default.
void init_resnet(torch::nn::Module& model);

// "[2, 3, 224, 224]".
std::string shape_of(const torch::Tensor& x);

}  // namespace dgc::train::detail
