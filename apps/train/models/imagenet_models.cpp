// The ImageNet models of dgc-train in one translation unit (each torch-including file costs
// ~40 s to compile here): imagenet_resnet.h, vgg.h.
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <map>
#include <vector>

#include "dgc/error.h"
#include "models/imagenet_resnet.h"
#include "models/model_init.h"
#include "models/vgg.h"

namespace dgc::train {
namespace {

torch::nn::Conv2d conv_no_bias(std::int64_t in_channels, std::int64_t out_channels,
                               std::int64_t kernel, std::int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, kernel)
                               .stride(stride)
                               .padding(kernel / 2)
                               .bias(false));
}

// torchvision's downsample, or null where the identity fits.
torch::nn::Sequential make_downsample(std::int64_t in_channels, std::int64_t out_channels,
                                      std::int64_t stride) {
  if (stride == 1 && in_channels == out_channels) return torch::nn::Sequential(nullptr);
  return torch::nn::Sequential(conv_no_bias(in_channels, out_channels, 1, stride),
                               torch::nn::BatchNorm2d(out_channels));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ImageNetResNet

ImageNetBasicBlockImpl::ImageNetBasicBlockImpl(std::int64_t in_channels, std::int64_t width,
                                               std::int64_t stride) {
  // Registration order is torchvision's: it fixes the order of named_parameters, and with it the
  // order of DGC's tensors and buckets.
  conv1_ = register_module("conv1", conv_no_bias(in_channels, width, 3, stride));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(width));
  conv2_ = register_module("conv2", conv_no_bias(width, width, 3, 1));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(width));
  downsample_ = make_downsample(in_channels, width * kExpansion, stride);
  if (downsample_) register_module("downsample", downsample_);
}

torch::Tensor ImageNetBasicBlockImpl::forward(const torch::Tensor& x) {
  // In-place ReLUs where torchvision has them: same memory behaviour as the PyTorch baseline.
  torch::Tensor out = bn1_->forward(conv1_->forward(x)).relu_();
  out = bn2_->forward(conv2_->forward(out));
  out += downsample_ ? downsample_->forward(x) : x;
  return out.relu_();
}

ImageNetBottleneckImpl::ImageNetBottleneckImpl(std::int64_t in_channels, std::int64_t width,
                                               std::int64_t stride) {
  conv1_ = register_module("conv1", conv_no_bias(in_channels, width, 1, 1));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(width));
  // ResNet v1.5: the stride sits on the 3x3 conv, not on the first 1x1 (the paper's v1), which
  // would skip three quarters of its input.
  conv2_ = register_module("conv2", conv_no_bias(width, width, 3, stride));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(width));
  conv3_ = register_module("conv3", conv_no_bias(width, width * kExpansion, 1, 1));
  bn3_ = register_module("bn3", torch::nn::BatchNorm2d(width * kExpansion));
  downsample_ = make_downsample(in_channels, width * kExpansion, stride);
  if (downsample_) register_module("downsample", downsample_);
}

torch::Tensor ImageNetBottleneckImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = bn1_->forward(conv1_->forward(x)).relu_();
  out = bn2_->forward(conv2_->forward(out)).relu_();
  out = bn3_->forward(conv3_->forward(out));
  out += downsample_ ? downsample_->forward(x) : x;
  return out.relu_();
}

namespace {

// Blocks per stage of table 1; Bottleneck from 50 layers on.
const std::map<std::int64_t, std::vector<std::int64_t>>& resnet_stages() {
  static const std::map<std::int64_t, std::vector<std::int64_t>> stages = {{18, {2, 2, 2, 2}},
                                                                           {34, {3, 4, 6, 3}},
                                                                           {50, {3, 4, 6, 3}},
                                                                           {101, {3, 4, 23, 3}},
                                                                           {152, {3, 8, 36, 3}}};
  return stages;
}

}  // namespace

template <typename Block>
torch::nn::Sequential ImageNetResNetImpl::make_stage(std::int64_t& in_channels, std::int64_t width,
                                                     std::int64_t num_blocks, std::int64_t stride) {
  torch::nn::Sequential stage;
  for (std::int64_t i = 0; i < num_blocks; ++i) {
    stage->push_back(Block(in_channels, width, i == 0 ? stride : 1));
    in_channels = width * Block::Impl::kExpansion;
  }
  return stage;
}

ImageNetResNetImpl::ImageNetResNetImpl(const ImageNetResNetOptions& options) : options_(options) {
  const auto found = resnet_stages().find(options.depth());
  DGC_CHECK(found != resnet_stages().end(),
            "an ImageNet ResNet's depth must be 18, 34, 50, 101 or 152, got ", options.depth());
  DGC_CHECK(options.in_channels() >= 1, "an ImageNet ResNet needs in_channels >= 1, got ",
            options.in_channels());
  DGC_CHECK(options.num_classes() >= 1, "an ImageNet ResNet needs num_classes >= 1, got ",
            options.num_classes());
  const std::vector<std::int64_t>& blocks = found->second;
  const bool bottleneck = options.depth() >= 50;

  conv1_ = register_module("conv1", conv_no_bias(options.in_channels(), 64, 7, 2));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(64));
  std::int64_t channels = 64;
  const auto stage = [&](std::int64_t width, std::int64_t num_blocks, std::int64_t stride) {
    return bottleneck ? make_stage<ImageNetBottleneck>(channels, width, num_blocks, stride)
                      : make_stage<ImageNetBasicBlock>(channels, width, num_blocks, stride);
  };
  layer1_ = register_module("layer1", stage(64, blocks[0], 1));
  layer2_ = register_module("layer2", stage(128, blocks[1], 2));
  layer3_ = register_module("layer3", stage(256, blocks[2], 2));
  layer4_ = register_module("layer4", stage(512, blocks[3], 2));
  fc_ = register_module("fc", torch::nn::Linear(channels, options.num_classes()));

  detail::init_resnet(*this);
  if (options.zero_init_residual()) {
    for (const auto& module : modules(/*include_self=*/false)) {
      if (auto* block = module->as<ImageNetBottleneckImpl>()) {
        torch::nn::init::zeros_(block->last_bn()->weight);
      } else if (auto* basic = module->as<ImageNetBasicBlockImpl>()) {
        torch::nn::init::zeros_(basic->last_bn()->weight);
      }
    }
  }
}

torch::Tensor ImageNetResNetImpl::forward(const torch::Tensor& x) {
  DGC_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels(),
            "an ImageNet ResNet with in_channels ", options_.in_channels(), " wants inputs [N, ",
            options_.in_channels(), ", H, W], got ", detail::shape_of(x));
  torch::Tensor out = bn1_->forward(conv1_->forward(x)).relu_();
  out = torch::max_pool2d(out, 3, 2, 1);
  out = layer4_->forward(layer3_->forward(layer2_->forward(layer1_->forward(out))));
  // adaptive_avg_pool2d to 1x1 then flatten, as torchvision: the mean over H and W.
  return fc_->forward(out.mean({2, 3}));
}

// ---------------------------------------------------------------------------------------------
// Vgg

namespace {

constexpr std::int64_t kMaxPool = 0;  // "M" in torchvision's cfgs

const std::map<std::int64_t, std::vector<std::int64_t>>& vgg_configs() {
  static const std::map<std::int64_t, std::vector<std::int64_t>> configs = {
      {11,
       {64, kMaxPool, 128, kMaxPool, 256, 256, kMaxPool, 512, 512, kMaxPool, 512, 512, kMaxPool}},
      {13,
       {64, 64, kMaxPool, 128, 128, kMaxPool, 256, 256, kMaxPool, 512, 512, kMaxPool, 512, 512,
        kMaxPool}},
      {16,
       {64, 64, kMaxPool, 128, 128, kMaxPool, 256, 256, 256, kMaxPool, 512, 512, 512, kMaxPool, 512,
        512, 512, kMaxPool}},
      {19, {64,  64,  kMaxPool, 128, 128,      kMaxPool, 256, 256, 256, 256,     kMaxPool,
            512, 512, 512,      512, kMaxPool, 512,      512, 512, 512, kMaxPool}}};
  return configs;
}

}  // namespace

VggImpl::VggImpl(const VggOptions& options) : options_(options) {
  const auto found = vgg_configs().find(options.depth());
  DGC_CHECK(found != vgg_configs().end(), "a VGG's depth must be 11, 13, 16 or 19, got ",
            options.depth());
  DGC_CHECK(options.in_channels() >= 1, "a VGG needs in_channels >= 1, got ",
            options.in_channels());
  DGC_CHECK(options.num_classes() >= 1, "a VGG needs num_classes >= 1, got ",
            options.num_classes());
  DGC_CHECK(options.dropout() >= 0 && options.dropout() < 1,
            "a VGG's dropout must be in [0, 1), got ", options.dropout());

  features_ = torch::nn::Sequential();
  std::int64_t channels = options.in_channels();
  for (const std::int64_t v : found->second) {
    if (v == kMaxPool) {
      features_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    features_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, v, 3).padding(1)));
    if (options.batch_norm()) features_->push_back(torch::nn::BatchNorm2d(v));
    features_->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(/*inplace=*/true)));
    channels = v;
  }
  register_module("features", features_);
  classifier_ = register_module(
      "classifier",
      torch::nn::Sequential(
          torch::nn::Linear(channels * 7 * 7, 4096), torch::nn::ReLU(torch::nn::ReLUOptions(true)),
          torch::nn::Dropout(options.dropout()), torch::nn::Linear(4096, 4096),
          torch::nn::ReLU(torch::nn::ReLUOptions(true)), torch::nn::Dropout(options.dropout()),
          torch::nn::Linear(4096, options.num_classes())));

  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      torch::nn::init::zeros_(conv->bias);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    } else if (auto* linear = module->as<torch::nn::Linear>()) {
      torch::nn::init::normal_(linear->weight, 0.0, 0.01);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor VggImpl::forward(const torch::Tensor& x) {
  const std::int64_t c = options_.in_channels();
  // Five 2x2 poolings: below 32 pixels a side the last one has nothing left to pool.
  DGC_CHECK(x.dim() == 4 && x.size(1) == c && x.size(2) >= 32 && x.size(3) >= 32,
            "a VGG with in_channels ", c, " wants inputs [N, ", c, ", H, W] with H, W >= 32, got ",
            detail::shape_of(x));
  torch::Tensor out = torch::adaptive_avg_pool2d(features_->forward(x), {7, 7});
  return classifier_->forward(out.flatten(1));
}

}  // namespace dgc::train
