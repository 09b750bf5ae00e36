// The ImageNet ResNets of He et al. 2016 (section 3.4, table 1) exactly as torchvision 0.14
// builds them (torchvision/models/resnet.py), so that results, parameter counts and checkpoints
// compare with the PyTorch world: a 7x7 stride-2 stem of 64 channels, 3x3 stride-2 max pooling,
// four stages (64, 128, 256, 512 channels times the block's expansion; stages 2-4 start with
// stride 2), global average pooling and a linear classifier.
//   depth 18, 34: BasicBlock (two 3x3 convs), expansion 1; ResNet-18 has 11,689,512 parameters.
//   depth 50, 101, 152: Bottleneck (1x1, 3x3, 1x1), expansion 4, the stride on the 3x3 conv
//   ("ResNet v1.5", torchvision's choice); ResNet-50 has 25,557,032 parameters.
// Shortcuts that change shape are "option B": downsample = 1x1 conv with the block's stride +
// batch norm (Sequential, so its names are downsample.0 and downsample.1).
//
// Init as torchvision: convolutions kaiming-normal (fan_out, relu), batch norm weight 1 and bias
// 0, the classifier libtorch's Linear default (the same as PyTorch's). zero_init_residual (Goyal
// et al. 2017, section 5.1) sets the weight of each block's last batch norm (bn2 of BasicBlock,
// bn3 of Bottleneck) to 0, so every block starts as the identity.
//
// Parameter and buffer names, their order and shapes are torchvision's state_dict keys:
// conv1.weight, bn1.{weight,bias,running_mean,running_var,num_batches_tracked},
// layer{1..4}.{i}.conv{1,2,3}.weight, layer{1..4}.{i}.bn{1,2,3}.*, layer{2..4}.0.downsample.{0,1}.*
// (layer1.0 too for Bottleneck), fc.{weight,bias}; tests/train/models/torchvision_shapes.sh
// checks them against torchvision itself. Any input of at least 1x1 works (adaptive pooling);
// 224x224 is the ImageNet size. Not thread-safe, like any libtorch module.
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

struct ImageNetResNetOptions {
  /* implicit */ ImageNetResNetOptions(std::int64_t depth = 50) : depth_(depth) {}
  // 18, 34 (BasicBlock) or 50, 101, 152 (Bottleneck); anything else is a dgc::Error.
  TORCH_ARG(std::int64_t, depth);
  TORCH_ARG(std::int64_t, in_channels) = 3;
  TORCH_ARG(std::int64_t, num_classes) = 1000;
  // true: each block's last batch-norm weight starts at 0 (torchvision's zero_init_residual).
  TORCH_ARG(bool, zero_init_residual) = false;
};

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); conv1 carries the stride.
class ImageNetBasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr std::int64_t kExpansion = 1;

  // width: the block's output channels (times kExpansion = 1).
  ImageNetBasicBlockImpl(std::int64_t in_channels, std::int64_t width, std::int64_t stride);

  torch::Tensor forward(const torch::Tensor& x);

  // The batch norm that zero_init_residual zeroes.
  torch::nn::BatchNorm2d& last_bn() { return bn2_; }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Sequential downsample_{nullptr};  // null: the identity shortcut
};
TORCH_MODULE(ImageNetBasicBlock);

// relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x)): 1x1 down to width, 3x3
// with the stride, 1x1 up to width * 4.
class ImageNetBottleneckImpl : public torch::nn::Module {
 public:
  static constexpr std::int64_t kExpansion = 4;

  ImageNetBottleneckImpl(std::int64_t in_channels, std::int64_t width, std::int64_t stride);

  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::BatchNorm2d& last_bn() { return bn3_; }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Conv2d conv2_{nullptr};
  torch::nn::BatchNorm2d bn2_{nullptr};
  torch::nn::Conv2d conv3_{nullptr};
  torch::nn::BatchNorm2d bn3_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(ImageNetBottleneck);

class ImageNetResNetImpl : public torch::nn::Module {
 public:
  explicit ImageNetResNetImpl(const ImageNetResNetOptions& options = {});

  // x: [N, in_channels, H, W] -> logits [N, num_classes].
  torch::Tensor forward(const torch::Tensor& x);

  const ImageNetResNetOptions& options() const { return options_; }

 private:
  template <typename Block>
  torch::nn::Sequential make_stage(std::int64_t& in_channels, std::int64_t width,
                                   std::int64_t num_blocks, std::int64_t stride);

  ImageNetResNetOptions options_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::Sequential layer1_{nullptr};
  torch::nn::Sequential layer2_{nullptr};
  torch::nn::Sequential layer3_{nullptr};
  torch::nn::Sequential layer4_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(ImageNetResNet);

}  // namespace dgc::train
