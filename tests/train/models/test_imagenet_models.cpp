// torchvision's ImageNet models in dgc-train (imagenet_resnet.h, vgg.h): parameter counts by
// torchvision's figures, torchvision's names, output shapes at 224 and 64 pixels,
// zero_init_residual, torchvision's init, errors, and that one SGD step learns. The full list of
// names and shapes is compared with torchvision itself by torchvision_shapes.sh (when importable).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "dgc/error.h"
#include "error_of.h"
#include "models/cifar_resnet.h"
#include "models/imagenet_resnet.h"
#include "models/registry.h"
#include "models/vgg.h"

namespace dgc::train {
namespace {

using dgc::test::error_of;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::int64_t count_parameters(const torch::nn::Module& module) {
  std::int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

Model imagenet_model(const std::string& name, std::int64_t image_size = 224) {
  return make_model(ModelSpec{name, 3, 1000, image_size});
}

// One instance of each model (3 x 224 x 224, 1000 classes, seed 1) for the tests that only read
// it: VGG-16-BN alone takes ~4 s to build and initialize here.
const Model& shared_model(const std::string& name) {
  static std::map<std::string, Model> models;
  auto found = models.find(name);
  if (found == models.end()) {
    torch::manual_seed(1);
    found = models.emplace(name, imagenet_model(name)).first;
  }
  return found->second;
}

std::vector<std::int64_t> shape(std::initializer_list<std::int64_t> sizes) { return sizes; }

// ---------------------------------------------------------------------------------------------
// Parameter counts: torchvision's own figures (its model docs, and sum(p.numel()) in 0.14).

TEST(ImageNetModels, ParameterCountsAreTorchvisions) {
  EXPECT_EQ(count_parameters(*shared_model("resnet18").module), 11689512);
  EXPECT_EQ(count_parameters(*shared_model("resnet50").module), 25557032);
  EXPECT_EQ(count_parameters(*shared_model("vgg16_bn").module), 138365992);
}

TEST(ImageNetModels, CountsFollowChannelsAndClasses) {
  // Only the stem and the classifier depend on them.
  const Model gray = make_model(ModelSpec{"resnet18", 1, 10});
  EXPECT_EQ(count_parameters(*gray.module), 11689512 - 2 * 64 * 7 * 7 - 990 * (512 + 1));
  const Model vgg = make_model(ModelSpec{"vgg16_bn", 1, 10});
  EXPECT_EQ(count_parameters(*vgg.module), 138365992 - 2 * 64 * 3 * 3 - 990 * (4096 + 1));
}

TEST(ImageNetModels, OtherDepthsHaveTorchvisionsCounts) {
  EXPECT_EQ(count_parameters(*ImageNetResNet(ImageNetResNetOptions(34))), 21797672);
  EXPECT_EQ(count_parameters(*ImageNetResNet(ImageNetResNetOptions(101))), 44549160);
  EXPECT_EQ(count_parameters(*Vgg(VggOptions(11).batch_norm(false))), 132863336);  // vgg11
}

// ---------------------------------------------------------------------------------------------
// Names (spot checks; torchvision_shapes.sh compares all of them with torchvision)

TEST(ImageNetModels, NamesAreTorchvisionsStateDictKeys) {
  const Model& r18 = shared_model("resnet18");
  const auto p18 = r18.module->named_parameters();
  const auto b18 = r18.module->named_buffers();
  EXPECT_EQ(p18["conv1.weight"].sizes(), shape({64, 3, 7, 7}));
  EXPECT_EQ(p18["layer2.0.downsample.0.weight"].sizes(), shape({128, 64, 1, 1}));
  EXPECT_EQ(p18["layer4.1.bn2.bias"].sizes(), shape({512}));
  EXPECT_EQ(p18["fc.weight"].sizes(), shape({1000, 512}));
  EXPECT_EQ(b18["layer3.0.downsample.1.running_var"].sizes(), shape({256}));
  EXPECT_EQ(b18["bn1.num_batches_tracked"].dim(), 0);
  EXPECT_EQ(p18.find("layer1.0.downsample.0.weight"), nullptr);  // 64 -> 64, stride 1
  EXPECT_EQ(p18.size(), 62u);
  EXPECT_EQ(b18.size(), 20u * 3);

  const Model& r50 = shared_model("resnet50");
  const auto p50 = r50.module->named_parameters();
  EXPECT_EQ(p50["layer1.0.downsample.0.weight"].sizes(), shape({256, 64, 1, 1}));  // 64 -> 256
  EXPECT_EQ(p50["layer2.0.conv2.weight"].sizes(), shape({128, 128, 3, 3}));
  EXPECT_EQ(p50["layer4.2.bn3.weight"].sizes(), shape({2048}));
  EXPECT_EQ(p50["fc.weight"].sizes(), shape({1000, 2048}));
  EXPECT_EQ(p50.size(), 161u);

  const Model& vgg = shared_model("vgg16_bn");
  const auto pv = vgg.module->named_parameters();
  const auto bv = vgg.module->named_buffers();
  EXPECT_EQ(pv["features.0.weight"].sizes(), shape({64, 3, 3, 3}));
  EXPECT_EQ(pv["features.0.bias"].sizes(), shape({64}));
  EXPECT_EQ(bv["features.1.running_mean"].sizes(), shape({64}));
  EXPECT_EQ(pv["features.40.weight"].sizes(), shape({512, 512, 3, 3}));
  EXPECT_EQ(bv["features.41.num_batches_tracked"].dim(), 0);
  EXPECT_EQ(pv["classifier.0.weight"].sizes(), shape({4096, 25088}));
  EXPECT_EQ(pv["classifier.3.bias"].sizes(), shape({4096}));
  EXPECT_EQ(pv["classifier.6.weight"].sizes(), shape({1000, 4096}));
  EXPECT_EQ(pv.size(), 13u * 4 + 3 * 2);  // conv weight and bias, bn weight and bias
}

// ---------------------------------------------------------------------------------------------
// Shapes

TEST(ImageNetModels, OutputShapesAt224And64) {
  torch::NoGradGuard no_grad;
  for (const std::string name : {"resnet18", "resnet50", "vgg16_bn"}) {
    const Model& model = shared_model(name);
    model.module->eval();  // leaves the batch-norm statistics as they are
    for (const std::int64_t size : {224, 64}) {
      EXPECT_EQ(model.forward(torch::randn({2, 3, size, size})).sizes(), shape({2, 1000}))
          << name << " at " << size;
    }
  }
  const Model gray = make_model(ModelSpec{"resnet18", 1, 10});
  EXPECT_EQ(gray.forward(torch::randn({2, 1, 64, 64})).sizes(), shape({2, 10}));
}

TEST(ImageNetModels, VggNeeds32PixelsAndTheRightChannels) {
  Vgg vgg(VggOptions(11).num_classes(10));
  EXPECT_THAT(error_of([&] {
                vgg->forward(torch::randn({1, 3, 31, 64}));
              }),
              AllOf(HasSubstr("H, W >= 32"), HasSubstr("[1, 3, 31, 64]")));
  EXPECT_THAT(error_of([&] {
                vgg->forward(torch::randn({1, 1, 32, 32}));
              }),
              HasSubstr("in_channels 3"));
  EXPECT_EQ(error_of([&] { vgg->forward(torch::randn({2, 3, 32, 32})); }), "");
}

TEST(ImageNetModels, ResNetWrongChannelsIsClear) {
  ImageNetResNet net(ImageNetResNetOptions(18).in_channels(1));
  EXPECT_THAT(error_of([&] {
                net->forward(torch::randn({1, 3, 64, 64}));
              }),
              AllOf(HasSubstr("in_channels 1"), HasSubstr("[1, 3, 64, 64]")));
}

TEST(ImageNetModels, BadDepthsAreNamed) {
  EXPECT_THAT(error_of([] { ImageNetResNet net(ImageNetResNetOptions(20)); }),
              AllOf(HasSubstr("18, 34, 50, 101 or 152"), HasSubstr("got 20")));
  EXPECT_THAT(error_of([] { Vgg net(VggOptions(15)); }),
              AllOf(HasSubstr("11, 13, 16 or 19"), HasSubstr("got 15")));
  EXPECT_THAT(error_of([] { Vgg net(VggOptions(11).dropout(1.0)); }), HasSubstr("[0, 1)"));
}

// ---------------------------------------------------------------------------------------------
// zero_init_residual

// The names of the batch-norm weights that are all zeros, and checks the others are all ones.
std::vector<std::string> zero_bn_weights(const torch::nn::Module& module) {
  std::vector<std::string> zeros;
  for (const auto& item : module.named_modules()) {
    const auto* bn = item.value()->as<torch::nn::BatchNorm2d>();
    if (bn == nullptr) continue;
    if (torch::equal(bn->weight, torch::zeros_like(bn->weight))) {
      zeros.push_back(item.key() + ".weight");
    } else {
      EXPECT_TRUE(torch::equal(bn->weight, torch::ones_like(bn->weight))) << item.key();
    }
    EXPECT_TRUE(torch::equal(bn->bias, torch::zeros_like(bn->bias))) << item.key();
  }
  return zeros;
}

std::vector<std::string> block_bns(const std::vector<int>& blocks_per_stage,
                                   const std::string& bn) {
  std::vector<std::string> names;
  for (std::size_t stage = 0; stage < blocks_per_stage.size(); ++stage) {
    for (int i = 0; i < blocks_per_stage[stage]; ++i) {
      names.push_back("layer" + std::to_string(stage + 1) + "." + std::to_string(i) + "." + bn +
                      ".weight");
    }
  }
  return names;
}

TEST(ImageNetModels, ZeroInitResidualZeroesExactlyTheLastBnOfEachBlock) {
  EXPECT_TRUE(zero_bn_weights(*shared_model("resnet18").module).empty());
  EXPECT_TRUE(zero_bn_weights(*shared_model("resnet50").module).empty());
  EXPECT_EQ(zero_bn_weights(*make_model(ModelSpec{"resnet18", 3, 1000, 224, true}).module),
            block_bns({2, 2, 2, 2}, "bn2"));
  EXPECT_EQ(zero_bn_weights(*make_model(ModelSpec{"resnet50", 3, 1000, 224, true}).module),
            block_bns({3, 4, 6, 3}, "bn3"));
  // The CIFAR ResNets take it too.
  EXPECT_EQ(zero_bn_weights(*make_model(ModelSpec{"resnet20", 3, 10, 32, true}).module),
            block_bns({3, 3, 3}, "bn2"));
}

TEST(ImageNetModels, ZeroInitResidualMakesEveryBlockTheIdentity) {
  // With the residual branch's output scaled by 0, a block without downsample returns relu(x).
  torch::NoGradGuard no_grad;
  ImageNetResNet net(ImageNetResNetOptions(50).zero_init_residual(true));
  net->train();
  const auto children = net->named_children();
  auto layer3 = children["layer3"]->as<torch::nn::Sequential>();
  const torch::Tensor x = torch::randn({2, 1024, 4, 4});
  EXPECT_TRUE(torch::equal((*layer3)[1]->as<ImageNetBottleneck>()->forward(x), torch::relu(x)));
}

TEST(ImageNetModels, ZeroInitResidualIsAnErrorWithoutResidualBlocks) {
  for (const std::string name : {"vgg16_bn", "fmnist_convnet"}) {
    EXPECT_THAT(error_of([&] {
                  make_model(ModelSpec{name, 1, 10, 32, true});
                }),
                AllOf(HasSubstr("model.zero_init_residual"), HasSubstr("'" + name + "'")));
  }
}

// ---------------------------------------------------------------------------------------------
// Init (torchvision 0.14's)

double std_of(const torch::Tensor& t) { return t.std().item<double>(); }

TEST(ImageNetModels, ResNetInit) {
  const Model& model = shared_model("resnet50");
  const auto p = model.module->named_parameters();
  // kaiming-normal with fan_out: 2.4M samples, the std within 1%.
  const double conv = std::sqrt(2.0 / (512 * 3 * 3));
  EXPECT_NEAR(std_of(p["layer4.0.conv2.weight"]), conv, 0.01 * conv);
  // fan_out, not fan_in: conv3 of a bottleneck has fan_in 512 and fan_out 2048.
  const double conv3 = std::sqrt(2.0 / 2048);
  EXPECT_NEAR(std_of(p["layer4.0.conv3.weight"]), conv3, 0.01 * conv3);
  // Linear keeps the default: uniform(+-1/sqrt(fan_in)) for weight and bias, std bound/sqrt(3).
  const double bound = 1.0 / std::sqrt(2048.0);
  EXPECT_LE(p["fc.weight"].abs().max().item<double>(), bound);
  EXPECT_NEAR(std_of(p["fc.weight"]), bound / std::sqrt(3.0), 0.01 * bound);
  EXPECT_LE(p["fc.bias"].abs().max().item<double>(), bound);
  EXPECT_GT(p["fc.bias"].abs().max().item<double>(), 0.0);
}

TEST(ImageNetModels, VggInit) {
  const Model& model = shared_model("vgg16_bn");
  const auto p = model.module->named_parameters();
  for (const std::string linear : {"classifier.0", "classifier.3", "classifier.6"}) {
    const torch::Tensor w = p[linear + ".weight"];
    EXPECT_NEAR(std_of(w), 0.01, 0.0002) << linear;  // >= 4M samples
    EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.0002) << linear;
    EXPECT_TRUE(torch::equal(p[linear + ".bias"], torch::zeros_like(p[linear + ".bias"])));
  }
  const double conv = std::sqrt(2.0 / (512 * 3 * 3));
  EXPECT_NEAR(std_of(p["features.40.weight"]), conv, 0.01 * conv);
  const double stem = std::sqrt(2.0 / (64 * 3 * 3));  // fan_out 576, fan_in would be 27
  EXPECT_NEAR(std_of(p["features.0.weight"]), stem, 0.1 * stem);
  EXPECT_TRUE(torch::equal(p["features.0.bias"], torch::zeros_like(p["features.0.bias"])));
  EXPECT_TRUE(zero_bn_weights(*model.module).empty());  // BN weight 1 and bias 0
}

// ---------------------------------------------------------------------------------------------
// Learning

// One SGD step on a fixed batch (4 x 3 x 64 x 64) reaches every parameter and lowers the loss on
// that batch. Both losses in train mode (batch statistics), with the same dropout masks (the
// generator reseeded before each forward), so the only difference is the step.
void expect_one_step_learns(const std::string& name) {
  torch::manual_seed(5);
  const Model model = imagenet_model(name, 64);
  const torch::Tensor x = torch::randn({4, 3, 64, 64});
  const torch::Tensor y = torch::randint(0, 1000, {4}, torch::kLong);
  model.module->train();
  torch::optim::SGD sgd(model.module->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const auto before = model.module->named_parameters().values();
  std::vector<torch::Tensor> copies;
  for (const auto& p : before) copies.push_back(p.detach().clone());

  torch::manual_seed(6);
  const torch::Tensor loss = torch::nn::functional::cross_entropy(model.forward(x), y);
  loss.backward();
  for (const auto& item : model.module->named_parameters()) {
    const torch::Tensor& g = item.value().grad();
    ASSERT_TRUE(g.defined()) << name << " " << item.key();
    EXPECT_GT(g.abs().max().item<double>(), 0.0) << name << " " << item.key();
  }
  sgd.step();
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_FALSE(torch::equal(before[i], copies[i])) << name << " parameter " << i;
  }
  torch::NoGradGuard no_grad;
  torch::manual_seed(6);
  const double after = torch::nn::functional::cross_entropy(model.forward(x), y).item<double>();
  EXPECT_LT(after, loss.item<double>()) << name;
}

TEST(ImageNetModels, OneSgdStepOfResNet18Learns) { expect_one_step_learns("resnet18"); }
TEST(ImageNetModels, OneSgdStepOfResNet50Learns) { expect_one_step_learns("resnet50"); }
TEST(ImageNetModels, OneSgdStepOfVgg16BnLearns) { expect_one_step_learns("vgg16_bn"); }

}  // namespace
}  // namespace dgc::train
