// The CIFAR ResNets of He et al. 2016 (section 4.2), as the seed builds them (mini-torchpack's
// CifarResNet, ALGORITHM.md section 9): a 3x3 stem of 16 channels, three stages of n BasicBlocks
// (16, 32, 64 channels; the second and third start with stride 2), global average pooling and a
// linear classifier; depth = 6n + 2 (20, 32, 44, 56, 110).
//
// Shortcuts are "option A": where a block changes shape, the identity is subsampled with the
// block's stride (x[:, :, ::2, ::2]) and zero channels are appended, so shortcuts have no
// parameters and the parameter counts are the paper's (ResNet-20: 269,722 with 10 classes).
//
// Init as the seed: convolutions kaiming-normal (fan_out, relu), batch-norm weight 1 and bias 0;
// the classifier keeps libtorch's default (the seed leaves PyTorch's Linear default too).
// zero_init_residual (off by default, not in the seed) starts each block's bn2 weight at 0.
//
// Parameter names follow torchvision and are stable (they become DGC tensor names and checkpoint
// keys): conv1.weight, bn1.{weight,bias,running_mean,running_var},
// layer{1,2,3}.{i}.conv{1,2}.weight, layer{1,2,3}.{i}.bn{1,2}.*, fc.{weight,bias}. The seed's own
// names (features.*, classifier.*) are not reproduced: its Sequential numbering says nothing about
// the layer.
//
// Any input size works (28x28 Fashion-MNIST, 32x32 CIFAR); input channels are an option.
// Not thread-safe, like any libtorch module.
#pragma once

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

namespace dgc::train {

struct CifarResNetOptions {
  /* implicit */ CifarResNetOptions(std::int64_t depth = 20) : depth_(depth) {}
  // Total number of weighted layers; must be 6n + 2 with n >= 1, else dgc::Error.
  TORCH_ARG(std::int64_t, depth);
  // 3 for CIFAR, 1 for Fashion-MNIST.
  TORCH_ARG(std::int64_t, in_channels) = 3;
  TORCH_ARG(std::int64_t, num_classes) = 10;
  // true: each block's bn2 weight starts at 0, the block at the identity (not in the seed;
  // torchvision's zero_init_residual, Goyal et al. 2017 section 5.1).
  TORCH_ARG(bool, zero_init_residual) = false;
};

namespace detail {

// The option-A shortcut: x[:, :, ::stride, ::stride] with zero channels appended up to
// out_channels (after the existing ones, as the seed's Shortcut does).
torch::Tensor option_a_shortcut(const torch::Tensor& x, std::int64_t stride,
                                std::int64_t out_channels);

}  // namespace detail

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut the identity or option A.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t stride);

  torch::Tensor forward(const torch::Tensor& x);

  // The batch norm that zero_init_residual zeroes.
  torch::nn::BatchNorm2d& last_bn() { return bn2_; }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  std::int64_t stride_;
  std::int64_t out_channels_;
  bool reshapes_;
};
TORCH_MODULE(BasicBlock);

class CifarResNetImpl : public torch::nn::Module {
 public:
  explicit CifarResNetImpl(const CifarResNetOptions& options = {});

  // x: [N, in_channels, H, W] -> logits [N, num_classes].
  torch::Tensor forward(const torch::Tensor& x);

  const CifarResNetOptions& options() const { return options_; }

 private:
  torch::nn::Sequential make_stage(std::int64_t in_channels, std::int64_t out_channels,
                                   std::int64_t num_blocks, std::int64_t stride);

  CifarResNetOptions options_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Sequential layer1_{nullptr};
  torch::nn::Sequential layer2_{nullptr};
  torch::nn::Sequential layer3_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(CifarResNet);

}  // namespace dgc::train
