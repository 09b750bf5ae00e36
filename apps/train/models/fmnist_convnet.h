// The Fashion-MNIST benchmark convnet (the dataset's own README benchmark, issue 4): conv 5x5x32
// (padding 2) + ReLU, max-pool 2, conv 5x5x64 (padding 2) + ReLU, max-pool 2, dense 1024 + ReLU,
// dropout 0.4, dense num_classes. With 1x28x28 inputs it has 3,274,634 parameters, 98% of them
// in fc1 (3136 x 1024): its gradient traffic dominates its compute, the AlexNet/VGG case of the
// DGC paper. Init is libtorch's default for every layer (nothing to match in the seed).
//
// fc1's input size depends on the image size, fixed at construction (image_size, square, a
// multiple of 4); forward checks the input against it so a wrong dataset fails with a clear
// error instead of a matmul shape mismatch. Dropout is active only in train mode.
// Parameter names: conv1.*, conv2.*, fc1.*, fc2.*. Not thread-safe, like any libtorch module.
#pragma once

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

namespace dgc::train {

struct FmnistConvNetOptions {
  TORCH_ARG(std::int64_t, in_channels) = 1;
  TORCH_ARG(std::int64_t, num_classes) = 10;
  // Height = width of the inputs; a multiple of 4 (two 2x2 poolings).
  TORCH_ARG(std::int64_t, image_size) = 28;
  TORCH_ARG(double, dropout) = 0.4;
};

class FmnistConvNetImpl : public torch::nn::Module {
 public:
  explicit FmnistConvNetImpl(const FmnistConvNetOptions& options = {});

  // x: [N, in_channels, image_size, image_size] -> logits [N, num_classes].
  torch::Tensor forward(const torch::Tensor& x);

  const FmnistConvNetOptions& options() const { return options_; }

 private:
  FmnistConvNetOptions options_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc2_{nullptr};
};
TORCH_MODULE(FmnistConvNet);

}  // namespace dgc::train
