// DGC-SGD (ALGORITHM.md section 7): the gradient already carries the momentum; weight decay has
// its own momentum buffer.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dgc/error.h"
#include "dgc/sgd.h"

namespace {

TEST(DGCSGD, WithoutWeightDecayIsPlainGradientDescent) {
  auto p = torch::tensor({1.0f, 2.0f}).requires_grad_();
  dgc::DGCSGD opt({p}, torch::optim::SGDOptions(0.5).momentum(0.9));
  for (int step = 0; step < 2; ++step) {
    p.mutable_grad() = torch::tensor({1.0f, -2.0f});
    opt.step();
  }
  // No momentum on the gradient: each step moves by lr * grad.
  EXPECT_TRUE(torch::equal(p.detach(), torch::tensor({0.0f, 4.0f})));
}

TEST(DGCSGD, WeightDecayHasItsOwnMomentumBuffer) {
  for (bool nesterov : {false, true}) {
    const double lr = 0.5, wd = 0.25, m = 0.5;
    auto p = torch::tensor({4.0f}).requires_grad_();
    dgc::DGCSGD opt({p},
                    torch::optim::SGDOptions(lr).momentum(m).weight_decay(wd).nesterov(nesterov));
    // Step 1: d = wd*p = 1, b = d = 1; d = d + m*b = 1.5 (nesterov) or b = 1; p -= lr*(d + g).
    p.mutable_grad() = torch::tensor({2.0f});
    opt.step();
    const float p1 = nesterov ? 4.0f - 0.5f * (1.5f + 2.0f) : 4.0f - 0.5f * (1.0f + 2.0f);
    EXPECT_FLOAT_EQ(p.item<float>(), p1);
    // Step 2: d = wd*p1; b = m*b + d; d = d + m*b (nesterov) or b.
    opt.step();
    const float d = 0.25f * p1, b = 0.5f * 1.0f + d;
    const float p2 = p1 - 0.5f * ((nesterov ? d + 0.5f * b : b) + 2.0f);
    EXPECT_FLOAT_EQ(p.item<float>(), p2);
  }
}

TEST(DGCSGD, StateRoundTripsThroughAnArchive) {
  auto p = torch::tensor({4.0f, -1.0f}).requires_grad_();
  auto options = torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(0.1);
  dgc::DGCSGD a({p}, options);
  p.mutable_grad() = torch::tensor({1.0f, 1.0f});
  a.step();
  torch::serialize::OutputArchive out;
  a.save(out);
  std::stringstream buffer;
  out.save_to(buffer);

  auto q = p.detach().clone().requires_grad_();
  dgc::DGCSGD b({q}, options);
  torch::serialize::InputArchive in;
  in.load_from(buffer);
  b.load(in);
  p.mutable_grad() = torch::tensor({0.5f, -0.5f});
  q.mutable_grad() = torch::tensor({0.5f, -0.5f});
  a.step();
  b.step();
  EXPECT_TRUE(torch::equal(p.detach(), q.detach()));
}

TEST(DGCSGD, BadOptionsAreRejected) {
  auto p = torch::zeros({1}).requires_grad_();
  EXPECT_THROW(dgc::DGCSGD({p}, torch::optim::SGDOptions(-1)), dgc::Error);
  try {
    dgc::DGCSGD({p}, torch::optim::SGDOptions(0.1).nesterov(true));
    ADD_FAILURE() << "nesterov without momentum accepted";
  } catch (const dgc::Error& e) {
    EXPECT_NE(e.message().find("nesterov needs momentum > 0"), std::string::npos);
  }
}

}  // namespace
