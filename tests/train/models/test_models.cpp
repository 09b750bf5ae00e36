// dgc-train's models (apps/train/models): parameter counts against the published figures, output
// shapes for both datasets, stable names, the seed's init, errors, modes, and that one SGD step
// learns. Also prints (never asserts) the time of one training step of batch 128.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "dgc/error.h"
#include "error_of.h"
#include "models/cifar_resnet.h"
#include "models/fmnist_convnet.h"
#include "models/registry.h"

namespace dgc::train {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::int64_t count_parameters(const torch::nn::Module& module) {
  std::int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

std::set<std::string> parameter_names(const torch::nn::Module& module) {
  std::set<std::string> names;
  for (const auto& item : module.named_parameters()) names.insert(item.key());
  return names;
}

std::set<std::string> buffer_names(const torch::nn::Module& module) {
  std::set<std::string> names;
  for (const auto& item : module.named_buffers()) names.insert(item.key());
  return names;
}

using dgc::test::error_of;

// ---------------------------------------------------------------------------------------------
// Parameter counts

TEST(CifarResNet, ParameterCountsMatchThePaper) {
  // The published counts of the option-A CIFAR ResNets (0.27M, 0.46M, 0.66M, 0.85M, 1.7M),
  // with 10 classes and 3 input channels.
  const std::vector<std::pair<std::int64_t, std::int64_t>> expected = {
      {20, 269722}, {32, 464154}, {44, 658586}, {56, 853018}, {110, 1727962}};
  for (const auto& [depth, count] : expected) {
    auto net = CifarResNet(CifarResNetOptions(depth));
    EXPECT_EQ(count_parameters(*net), count) << "depth " << depth;
  }
}

TEST(CifarResNet, ResNet20CountByHand) {
  // Convs: stem 3*16*9, stage 1: 6 * 16*16*9, stage 2: 16*32*9 + 5 * 32*32*9,
  // stage 3: 32*64*9 + 5 * 64*64*9; 19 batch norms (weight + bias); fc 64*10 + 10.
  const std::int64_t convs = 3 * 16 * 9 + 6 * 16 * 16 * 9 + (16 * 32 * 9 + 5 * 32 * 32 * 9) +
                             (32 * 64 * 9 + 5 * 64 * 64 * 9);
  const std::int64_t bns = 2 * (7 * 16 + 6 * 32 + 6 * 64);
  const std::int64_t fc = 64 * 10 + 10;
  auto net = CifarResNet(CifarResNetOptions(20));
  EXPECT_EQ(count_parameters(*net), convs + bns + fc);
  EXPECT_EQ(convs + bns + fc, 269722);
  // 272,474, a figure quoted for ResNet-20, is option B: a 1x1 projection conv and a batch norm
  // on the two shape-changing shortcuts (16->32, 32->64). Option A has none of them.
  EXPECT_EQ(count_parameters(*net) + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64), 272474);
}

TEST(CifarResNet, OneInputChannelRemovesOnlyStemWeights) {
  CifarResNet rgb(CifarResNetOptions(20).in_channels(3));
  CifarResNet gray(CifarResNetOptions(20).in_channels(1));
  EXPECT_EQ(count_parameters(*rgb) - count_parameters(*gray), 2 * 16 * 9);
}

TEST(FmnistConvNet, ParameterCount) {
  FmnistConvNet net;
  // conv1 5*5*1*32 + 32, conv2 5*5*32*64 + 64, fc1 3136*1024 + 1024, fc2 1024*10 + 10.
  EXPECT_EQ(count_parameters(*net), 832 + 51264 + 3212288 + 10250);
  EXPECT_EQ(count_parameters(*net), 3274634);
}

// ---------------------------------------------------------------------------------------------
// Shapes

TEST(CifarResNet, OutputShapes) {
  torch::NoGradGuard no_grad;
  CifarResNet fmnist(CifarResNetOptions(20).in_channels(1).num_classes(10));
  EXPECT_EQ(fmnist->forward(torch::randn({4, 1, 28, 28})).sizes(),
            (std::vector<std::int64_t>{4, 10}));
  CifarResNet cifar(CifarResNetOptions(20).in_channels(3).num_classes(100));
  EXPECT_EQ(cifar->forward(torch::randn({2, 3, 32, 32})).sizes(),
            (std::vector<std::int64_t>{2, 100}));
}

TEST(FmnistConvNet, OutputShapes) {
  torch::NoGradGuard no_grad;
  FmnistConvNet fmnist;
  EXPECT_EQ(fmnist->forward(torch::randn({4, 1, 28, 28})).sizes(),
            (std::vector<std::int64_t>{4, 10}));
  FmnistConvNet cifar(FmnistConvNetOptions().in_channels(3).image_size(32));
  EXPECT_EQ(cifar->forward(torch::randn({2, 3, 32, 32})).sizes(),
            (std::vector<std::int64_t>{2, 10}));
}

// ---------------------------------------------------------------------------------------------
// Names: they become DGC tensor names and checkpoint keys.

TEST(CifarResNet, ParameterAndBufferNames) {
  auto net = CifarResNet(CifarResNetOptions(20));
  const auto params = parameter_names(*net);
  for (const std::string name :
       {"conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.2.bn2.bias",
        "layer2.0.conv1.weight", "layer2.0.bn1.weight", "layer3.2.conv2.weight", "fc.weight",
        "fc.bias"}) {
    EXPECT_EQ(params.count(name), 1u) << name;
  }
  EXPECT_EQ(params.count("layer3.3.conv1.weight"), 0u);  // n = 3 blocks per stage
  EXPECT_EQ(params.count("conv1.bias"), 0u);             // convs have no bias
  const auto buffers = buffer_names(*net);
  for (const std::string name : {"bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
                                 "layer2.1.bn2.running_mean"}) {
    EXPECT_EQ(buffers.count(name), 1u) << name;
  }
  // 19 convs + 19 * 2 batch-norm tensors + fc weight and bias.
  EXPECT_EQ(params.size(), 19u + 38u + 2u);
}

TEST(FmnistConvNet, ParameterNames) {
  FmnistConvNet net;
  EXPECT_EQ(parameter_names(*net),
            (std::set<std::string>{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                   "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_TRUE(buffer_names(*net).empty());
}

// ---------------------------------------------------------------------------------------------
// The option-A shortcut

TEST(CifarResNet, OptionAShortcutAddsNoParameters) {
  // A shape-changing block has exactly its two convs and two batch norms.
  BasicBlock down(16, 32, 2);
  EXPECT_EQ(count_parameters(*down), 16 * 32 * 9 + 32 * 32 * 9 + 2 * 2 * 32);
  EXPECT_EQ(down->named_parameters().size(), 6u);
  EXPECT_EQ(down->named_children().size(), 4u);
}

TEST(CifarResNet, OptionAShortcutSubsamplesAndAppendsZeroChannels) {
  const torch::Tensor x = torch::randn({2, 16, 7, 7});
  const torch::Tensor y = detail::option_a_shortcut(x, 2, 32);
  ASSERT_EQ(y.sizes(), (std::vector<std::int64_t>{2, 32, 4, 4}));
  using torch::indexing::None;
  using torch::indexing::Slice;
  EXPECT_TRUE(
      torch::equal(y.index({Slice(), Slice(0, 16)}),
                   x.index({Slice(), Slice(), Slice(None, None, 2), Slice(None, None, 2)})));
  EXPECT_TRUE(torch::equal(y.index({Slice(), Slice(16, 32)}), torch::zeros({2, 16, 4, 4})));
}

TEST(CifarResNet, BlockShapeMatchesShortcutForOddSizes) {
  // 7x7 -> 4x4 both through the stride-2 conv and through x[:, :, ::2, ::2].
  torch::NoGradGuard no_grad;
  BasicBlock down(16, 32, 2);
  EXPECT_EQ(down->forward(torch::randn({1, 16, 7, 7})).sizes(),
            (std::vector<std::int64_t>{1, 32, 4, 4}));
}

// ---------------------------------------------------------------------------------------------
// Init (the seed's)

TEST(CifarResNet, BatchNormStartsAtOneAndZero) {
  auto net = CifarResNet(CifarResNetOptions(20));
  int seen = 0;
  for (const auto& module : net->modules(false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      EXPECT_TRUE(torch::equal(bn->weight, torch::ones_like(bn->weight)));
      EXPECT_TRUE(torch::equal(bn->bias, torch::zeros_like(bn->bias)));
      ++seen;
    }
  }
  EXPECT_EQ(seen, 19);
}

TEST(CifarResNet, ConvWeightsAreKaimingNormalFanOut) {
  torch::manual_seed(1);
  auto net = CifarResNet(CifarResNetOptions(20));
  const auto params = net->named_parameters();
  // 64 * 64 * 9 = 36,864 samples: the std is within 2% with overwhelming probability.
  const torch::Tensor w = params["layer3.2.conv2.weight"];
  const double expected = std::sqrt(2.0 / (64 * 3 * 3));
  EXPECT_NEAR(w.std().item<double>(), expected, 0.02 * expected);
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.02 * expected);
  // fan_out, not fan_in: layer2.0.conv1 has fan_in 16*9 and fan_out 32*9.
  const torch::Tensor down = params["layer2.0.conv1.weight"];
  EXPECT_NEAR(down.std().item<double>(), std::sqrt(2.0 / (32 * 9)), 0.05 * std::sqrt(2.0 / 288));
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(CifarResNet, BadDepthNamesTheDepth) {
  for (const std::int64_t depth : {0, 2, 19, 21}) {
    EXPECT_THAT(error_of([&] { auto net = CifarResNet(CifarResNetOptions(depth)); }),
                AllOf(HasSubstr("6n+2"), HasSubstr("got " + std::to_string(depth))));
  }
  EXPECT_EQ(error_of([] { auto net = CifarResNet(CifarResNetOptions(8)); }), "");  // n = 1
}

TEST(CifarResNet, WrongInputChannelsIsClear) {
  CifarResNet net(CifarResNetOptions(20).in_channels(1));
  EXPECT_THAT(error_of([&] {
                net->forward(torch::randn({1, 3, 32, 32}));
              }),
              AllOf(HasSubstr("in_channels 1"), HasSubstr("[1, 3, 32, 32]")));
}

TEST(FmnistConvNet, WrongInputSizeIsClear) {
  FmnistConvNet net;
  EXPECT_THAT(error_of([&] {
                net->forward(torch::randn({1, 3, 32, 32}));
              }),
              AllOf(HasSubstr("[N, 1, 28, 28]"), HasSubstr("[1, 3, 32, 32]")));
  EXPECT_THAT(error_of([] { FmnistConvNet bad(FmnistConvNetOptions().image_size(30)); }),
              AllOf(HasSubstr("multiple of 4"), HasSubstr("got 30")));
}

TEST(Registry, MakesEveryKnownModel) {
  // The ImageNet models' counts are with 1000 classes (test_imagenet_models.cpp has them).
  const std::vector<std::pair<std::string, std::int64_t>> expected = {
      {"resnet20", 269722},   {"resnet32", 464154},   {"resnet44", 658586},
      {"resnet56", 853018},   {"resnet110", 1727962}, {"fmnist_convnet", 3274634},
      {"resnet18", 11689512}, {"resnet50", 25557032}, {"vgg16_bn", 138365992}};
  ASSERT_EQ(model_names().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& [name, count] = expected[i];
    EXPECT_EQ(model_names()[i], name);
    // fmnist_convnet's count is for 1x28x28; the others' for 3 channels.
    const std::int64_t in_channels = name == "fmnist_convnet" ? 1 : 3;
    const std::int64_t num_classes = i < 6 ? 10 : 1000;
    const Model model = make_model(ModelSpec{name, in_channels, num_classes});
    EXPECT_EQ(count_parameters(*model.module), count) << name;
  }
  const Model resnet = make_model(ModelSpec{"resnet20", 1, 10});
  EXPECT_NE(std::dynamic_pointer_cast<CifarResNetImpl>(resnet.module), nullptr);
  torch::NoGradGuard no_grad;
  EXPECT_EQ(resnet.forward(torch::randn({2, 1, 28, 28})).sizes(),
            (std::vector<std::int64_t>{2, 10}));
  const Model convnet = make_model(ModelSpec{"fmnist_convnet", 3, 10, 32});
  EXPECT_EQ(convnet.forward(torch::randn({2, 3, 32, 32})).sizes(),
            (std::vector<std::int64_t>{2, 10}));
}

TEST(Registry, UnknownNameListsTheKnownNames) {
  EXPECT_THAT(error_of([] {
                make_model(ModelSpec{"resnet19", 3, 10});
              }),
              AllOf(HasSubstr("unknown model 'resnet19'"),
                    HasSubstr("resnet20, resnet32, resnet44, resnet56, resnet110, "
                              "fmnist_convnet, resnet18, resnet50, vgg16_bn")));
}

// ---------------------------------------------------------------------------------------------
// Modes

TEST(FmnistConvNet, DropoutOnlyInTrainMode) {
  torch::NoGradGuard no_grad;
  FmnistConvNet net;
  const torch::Tensor x = torch::randn({8, 1, 28, 28});
  net->eval();
  EXPECT_TRUE(torch::equal(net->forward(x), net->forward(x)));
  net->train();
  EXPECT_FALSE(torch::equal(net->forward(x), net->forward(x)));
}

TEST(CifarResNet, BatchStatisticsOnlyInTrainMode) {
  torch::NoGradGuard no_grad;
  CifarResNet net(CifarResNetOptions(20).in_channels(1));
  const torch::Tensor x = torch::randn({8, 1, 28, 28});
  const auto buffers = net->named_buffers();
  const torch::Tensor before = buffers["bn1.running_mean"].clone();
  net->eval();
  const torch::Tensor y = net->forward(x);
  EXPECT_TRUE(torch::equal(buffers["bn1.running_mean"], before));
  EXPECT_TRUE(torch::equal(net->forward(x), y));
  net->train();
  net->forward(x);
  EXPECT_FALSE(torch::equal(buffers["bn1.running_mean"], before));
}

// ---------------------------------------------------------------------------------------------
// Learning: gradients reach every parameter, and a step lowers the loss on its batch.

double sgd_step_loss_change(const Model& model, const torch::Tensor& x, const torch::Tensor& y,
                            double lr, bool expect_all_grads) {
  torch::optim::SGD sgd(model.module->parameters(), torch::optim::SGDOptions(lr));
  model.module->train();
  sgd.zero_grad();
  const torch::Tensor loss = torch::nn::functional::cross_entropy(model.forward(x), y);
  loss.backward();
  if (expect_all_grads) {
    for (const auto& item : model.module->named_parameters()) {
      const torch::Tensor& g = item.value().grad();
      EXPECT_TRUE(g.defined()) << item.key();
      if (g.defined()) EXPECT_GT(g.abs().max().item<double>(), 0.0) << item.key();
    }
  }
  sgd.step();
  torch::NoGradGuard no_grad;
  // Train mode for the second loss too (batch statistics), without dropout's noise: eval for
  // the convnet, which has no batch norm.
  if (!expect_all_grads) model.module->eval();
  const double after = torch::nn::functional::cross_entropy(model.forward(x), y).item<double>();
  return after - loss.item<double>();
}

TEST(CifarResNet, OneSgdStepLowersTheLossAndReachesEveryParameter) {
  torch::manual_seed(3);
  const Model model = make_model(ModelSpec{"resnet20", 1, 10});
  const torch::Tensor x = torch::randn({16, 1, 28, 28});
  const torch::Tensor y = torch::randint(0, 10, {16}, torch::kLong);
  EXPECT_LT(sgd_step_loss_change(model, x, y, 0.05, /*expect_all_grads=*/true), 0.0);
}

TEST(FmnistConvNet, OneSgdStepLowersTheLoss) {
  torch::manual_seed(3);
  const Model model = make_model(ModelSpec{"fmnist_convnet", 1, 10});
  // Dropout makes the train-mode loss noisy: compare eval-mode losses around the step.
  const torch::Tensor x = torch::randn({16, 1, 28, 28});
  const torch::Tensor y = torch::randint(0, 10, {16}, torch::kLong);
  double before;
  {
    torch::NoGradGuard no_grad;
    model.module->eval();
    before = torch::nn::functional::cross_entropy(model.forward(x), y).item<double>();
  }
  torch::optim::SGD sgd(model.module->parameters(), torch::optim::SGDOptions(0.05));
  model.module->train();
  torch::nn::functional::cross_entropy(model.forward(x), y).backward();
  for (const auto& item : model.module->named_parameters()) {
    EXPECT_TRUE(item.value().grad().defined()) << item.key();
  }
  sgd.step();
  torch::NoGradGuard no_grad;
  model.module->eval();
  EXPECT_LT(torch::nn::functional::cross_entropy(model.forward(x), y).item<double>(), before);
}

}  // namespace
}  // namespace dgc::train
