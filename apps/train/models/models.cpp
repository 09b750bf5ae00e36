// The small models of dgc-train and the registry in one translation unit (each torch-including
// file costs ~30 s to compile here): cifar_resnet.h, fmnist_convnet.h, registry.h. The ImageNet
// models live in imagenet_models.cpp.
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>

#include <sstream>

#include "dgc/error.h"
#include "models/cifar_resnet.h"
#include "models/fmnist_convnet.h"
#include "models/imagenet_resnet.h"
#include "models/model_init.h"
#include "models/registry.h"
#include "models/vgg.h"

namespace dgc::train {
namespace {

torch::nn::Conv2d conv3x3(std::int64_t in_channels, std::int64_t out_channels,
                          std::int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in_channels, out_channels, 3).stride(stride).padding(1).bias(false));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// CifarResNet

namespace detail {

void init_resnet(torch::nn::Module& model) {
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    }
  }
}

std::string shape_of(const torch::Tensor& x) {
  std::ostringstream out;
  out << x.sizes();
  return out.str();
}

torch::Tensor option_a_shortcut(const torch::Tensor& x, std::int64_t stride,
                                std::int64_t out_channels) {
  using torch::indexing::None;
  using torch::indexing::Slice;
  const torch::Tensor sub =
      x.index({Slice(), Slice(), Slice(None, None, stride), Slice(None, None, stride)});
  // Padding the channel dimension at its end only: one op instead of zeros + cat, same result.
  return torch::constant_pad_nd(sub, {0, 0, 0, 0, 0, out_channels - x.size(1)}, 0);
}

}  // namespace detail

BasicBlockImpl::BasicBlockImpl(std::int64_t in_channels, std::int64_t out_channels,
                               std::int64_t stride)
    : stride_(stride),
      out_channels_(out_channels),
      reshapes_(stride != 1 || in_channels != out_channels) {
  DGC_CHECK(out_channels >= in_channels,
            "an option-A shortcut can only add channels, got in_channels ", in_channels,
            " > out_channels ", out_channels);
  conv1_ = register_module("conv1", conv3x3(in_channels, out_channels, stride));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(out_channels));
  conv2_ = register_module("conv2", conv3x3(out_channels, out_channels, 1));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(out_channels));
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = torch::relu(bn1_->forward(conv1_->forward(x)));
  out = bn2_->forward(conv2_->forward(out));
  out += reshapes_ ? detail::option_a_shortcut(x, stride_, out_channels_) : x;
  return torch::relu(out);
}

CifarResNetImpl::CifarResNetImpl(const CifarResNetOptions& options) : options_(options) {
  const std::int64_t depth = options.depth();
  DGC_CHECK(depth >= 8 && (depth - 2) % 6 == 0,
            "a CIFAR ResNet's depth must be 6n+2 with n >= 1 (20, 32, 44, 56, 110, ...), got ",
            depth);
  DGC_CHECK(options.in_channels() >= 1, "a CIFAR ResNet needs in_channels >= 1, got ",
            options.in_channels());
  DGC_CHECK(options.num_classes() >= 1, "a CIFAR ResNet needs num_classes >= 1, got ",
            options.num_classes());
  const std::int64_t n = (depth - 2) / 6;

  conv1_ = register_module("conv1", conv3x3(options.in_channels(), 16, 1));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(16));
  layer1_ = register_module("layer1", make_stage(16, 16, n, 1));
  layer2_ = register_module("layer2", make_stage(16, 32, n, 2));
  layer3_ = register_module("layer3", make_stage(32, 64, n, 2));
  fc_ = register_module("fc", torch::nn::Linear(64, options.num_classes()));

  detail::init_resnet(*this);  // the seed's init (mini-torchpack CifarResNet)
  if (options.zero_init_residual()) {
    for (const auto& module : modules(/*include_self=*/false)) {
      if (auto* block = module->as<BasicBlockImpl>())
        torch::nn::init::zeros_(block->last_bn()->weight);
    }
  }
}

torch::nn::Sequential CifarResNetImpl::make_stage(std::int64_t in_channels,
                                                  std::int64_t out_channels,
                                                  std::int64_t num_blocks, std::int64_t stride) {
  torch::nn::Sequential stage;
  stage->push_back(BasicBlock(in_channels, out_channels, stride));
  for (std::int64_t i = 1; i < num_blocks; ++i) {
    stage->push_back(BasicBlock(out_channels, out_channels, 1));
  }
  return stage;
}

torch::Tensor CifarResNetImpl::forward(const torch::Tensor& x) {
  DGC_CHECK(x.dim() == 4 && x.size(1) == options_.in_channels(), "a CIFAR ResNet with in_channels ",
            options_.in_channels(), " wants inputs [N, ", options_.in_channels(), ", H, W], got ",
            detail::shape_of(x));
  torch::Tensor out = torch::relu(bn1_->forward(conv1_->forward(x)));
  out = layer3_->forward(layer2_->forward(layer1_->forward(out)));
  return fc_->forward(out.mean({2, 3}));
}

// ---------------------------------------------------------------------------------------------
// FmnistConvNet

FmnistConvNetImpl::FmnistConvNetImpl(const FmnistConvNetOptions& options) : options_(options) {
  DGC_CHECK(options.in_channels() >= 1, "the convnet needs in_channels >= 1, got ",
            options.in_channels());
  DGC_CHECK(options.num_classes() >= 1, "the convnet needs num_classes >= 1, got ",
            options.num_classes());
  DGC_CHECK(options.image_size() >= 4 && options.image_size() % 4 == 0,
            "the convnet needs an image size that is a positive multiple of 4 (two 2x2 "
            "poolings), got ",
            options.image_size());
  DGC_CHECK(options.dropout() >= 0 && options.dropout() < 1,
            "the convnet's dropout must be in [0, 1), got ", options.dropout());
  const std::int64_t pooled = options.image_size() / 4;

  conv1_ = register_module(
      "conv1",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels(), 32, 5).padding(2)));
  conv2_ =
      register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 5).padding(2)));
  fc1_ = register_module("fc1", torch::nn::Linear(64 * pooled * pooled, 1024));
  dropout_ = register_module("dropout", torch::nn::Dropout(options.dropout()));
  fc2_ = register_module("fc2", torch::nn::Linear(1024, options.num_classes()));
}

torch::Tensor FmnistConvNetImpl::forward(const torch::Tensor& x) {
  const std::int64_t c = options_.in_channels();
  const std::int64_t s = options_.image_size();
  DGC_CHECK(x.dim() == 4 && x.size(1) == c && x.size(2) == s && x.size(3) == s,
            "the convnet was built for inputs [N, ", c, ", ", s, ", ", s, "], got ",
            detail::shape_of(x));
  torch::Tensor out = torch::max_pool2d(torch::relu(conv1_->forward(x)), 2);
  out = torch::max_pool2d(torch::relu(conv2_->forward(out)), 2);
  out = torch::relu(fc1_->forward(out.flatten(1)));
  return fc2_->forward(dropout_->forward(out));
}

// ---------------------------------------------------------------------------------------------
// Registry

namespace {

template <typename Holder>
Model wrap(Holder holder) {
  // Captures the shared_ptr, not the holder: the holder's operator-> is const inside a lambda.
  auto impl = holder.ptr();
  return Model{impl, [impl](const torch::Tensor& x) { return impl->forward(x); }};
}

}  // namespace

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"resnet20", "resnet32",  "resnet44",
                                                 "resnet56", "resnet110", "fmnist_convnet",
                                                 "resnet18", "resnet50",  "vgg16_bn"};
  return names;
}

Model make_model(const ModelSpec& spec) {
  const std::string& name = spec.name;
  if (name == "fmnist_convnet" || name == "vgg16_bn") {
    // A silent no-op would let a run believe it trained with the trick.
    DGC_CHECK(!spec.zero_init_residual,
              "config: model.zero_init_residual applies to the ResNets "
              "only; model '",
              name, "' has no residual blocks");
  }
  if (name == "fmnist_convnet") {
    return wrap(FmnistConvNet(FmnistConvNetOptions()
                                  .in_channels(spec.in_channels)
                                  .num_classes(spec.num_classes)
                                  .image_size(spec.image_size)));
  }
  if (name == "vgg16_bn") {
    return wrap(Vgg(VggOptions(16)
                        .batch_norm(true)
                        .in_channels(spec.in_channels)
                        .num_classes(spec.num_classes)));
  }
  for (const std::int64_t depth : {18, 50}) {
    if (name == "resnet" + std::to_string(depth)) {
      return wrap(ImageNetResNet(ImageNetResNetOptions(depth)
                                     .in_channels(spec.in_channels)
                                     .num_classes(spec.num_classes)
                                     .zero_init_residual(spec.zero_init_residual)));
    }
  }
  for (const std::int64_t depth : {20, 32, 44, 56, 110}) {
    if (name == "resnet" + std::to_string(depth)) {
      return wrap(CifarResNet(CifarResNetOptions(depth)
                                  .in_channels(spec.in_channels)
                                  .num_classes(spec.num_classes)
                                  .zero_init_residual(spec.zero_init_residual)));
    }
  }
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  DGC_FAIL("unknown model '", name, "'; known models: ", known);
}

}  // namespace dgc::train
