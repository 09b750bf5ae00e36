// dgc-train's learning-rate schedule against values computed by hand from ALGORITHM.md
// section 9.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "dgc/error.h"
#include "schedule/lr_schedule.h"

namespace dgc::train {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

constexpr double kTol = 1e-12;
constexpr std::int64_t kSteps = 10;  // steps per epoch in these tests

LrScheduleOptions options(int world_size, int num_batches_per_step = 1) {
  LrScheduleOptions o;
  o.base_lr = 0.1;
  o.world_size = world_size;
  o.num_batches_per_step = num_batches_per_step;
  o.warmup_lr_epochs = 5;
  o.name = "cosine";
  o.num_epochs = 205;  // T_max = 200
  return o;
}

// --- the warm-up ramp ------------------------------------------------------------------------
// lr = factor * base_lr * size, factor = (f * (size - 1) / 5 + 1) / size, f = epoch + step / 10.
// Start (0, 0): f = 0; middle (2, 5): f = 2.5; end, the ramp's last step (4, 9): f = 4.9.

TEST(LrRamp, WorldOneIsFlatAtBaseLr) {
  // size 1: factor (0 + 1) / 1 = 1 everywhere, nothing to ramp.
  const auto o = options(1);
  EXPECT_NEAR(learning_rate(o, 0, 0, kSteps), 0.1, kTol);
  EXPECT_NEAR(learning_rate(o, 2, 5, kSteps), 0.1, kTol);
  EXPECT_NEAR(learning_rate(o, 4, 9, kSteps), 0.1, kTol);
  EXPECT_EQ(learning_rate(o, 5, 0, kSteps), 0.1);
}

TEST(LrRamp, WorldTwo) {
  // size 2, scaled 0.2: factors 1/2, (0.5 + 1) / 2 = 0.75, (0.98 + 1) / 2 = 0.99.
  const auto o = options(2);
  EXPECT_NEAR(learning_rate(o, 0, 0, kSteps), 0.1, kTol);
  EXPECT_NEAR(learning_rate(o, 2, 5, kSteps), 0.15, kTol);
  EXPECT_NEAR(learning_rate(o, 4, 9, kSteps), 0.198, kTol);
  EXPECT_EQ(learning_rate(o, 5, 0, kSteps), 0.1 * 2);
}

TEST(LrRamp, WorldEight) {
  // size 8, scaled 0.8: factors 1/8, (3.5 + 1) / 8 = 0.5625, (6.86 + 1) / 8 = 0.9825.
  const auto o = options(8);
  EXPECT_NEAR(learning_rate(o, 0, 0, kSteps), 0.1, kTol);
  EXPECT_NEAR(learning_rate(o, 2, 5, kSteps), 0.45, kTol);
  EXPECT_NEAR(learning_rate(o, 4, 9, kSteps), 0.786, kTol);
  EXPECT_EQ(learning_rate(o, 5, 0, kSteps), 0.1 * 8);
}

TEST(LrRamp, MicroBatchesCountLikeRanks) {
  // 4 ranks of 2 micro-batches per step is the same size 8 as 8 ranks of 1.
  for (const auto& [epoch, step] : {std::pair<int, int>{0, 0}, {2, 5}, {4, 9}, {7, 3}}) {
    EXPECT_DOUBLE_EQ(learning_rate(options(4, 2), epoch, step, kSteps),
                     learning_rate(options(8, 1), epoch, step, kSteps));
  }
}

TEST(LrRamp, IsLinearPerStepAndReachesTheScaledLrExactly) {
  // Every step adds the same increment base_lr * (size - 1) / (5 * 10) = 0.014 (size 8), and
  // the first step after the ramp is exactly the scaled rate, one more increment on.
  const auto o = options(8);
  double previous = learning_rate(o, 0, 0, kSteps);
  for (std::int64_t epoch = 0; epoch < 5; ++epoch) {
    for (std::int64_t step = 0; step < kSteps; ++step) {
      if (epoch == 0 && step == 0) continue;
      const double lr = learning_rate(o, epoch, step, kSteps);
      EXPECT_NEAR(lr - previous, 0.014, kTol) << epoch << "/" << step;
      previous = lr;
    }
  }
  EXPECT_NEAR(learning_rate(o, 5, 0, kSteps) - previous, 0.014, kTol);
  EXPECT_EQ(learning_rate(o, 5, 0, kSteps), 0.8);
}

TEST(LrRamp, NoRampStartsAtTheScaledLr) {
  auto o = options(8);
  o.warmup_lr_epochs = 0;
  o.num_epochs = 200;  // T_max = 200 from epoch 0
  EXPECT_EQ(learning_rate(o, 0, 0, kSteps), 0.8);
  EXPECT_EQ(learning_rate(o, 0, 9, kSteps), 0.8);
  EXPECT_NEAR(learning_rate(o, 100, 0, kSteps), 0.4, kTol);
}

// --- after the ramp --------------------------------------------------------------------------

TEST(LrCosine, HalfAtHalfTmaxAndZeroAtTheEnd) {
  const auto o = options(8);  // scaled 0.8, T_max 200 from epoch 5
  EXPECT_EQ(learning_rate(o, 5, 0, kSteps), 0.8);
  EXPECT_NEAR(learning_rate(o, 105, 0, kSteps), 0.4, kTol);
  // t = 1: 0.8 * (1 + cos(pi / 200)) / 2.
  EXPECT_NEAR(learning_rate(o, 6, 0, kSteps), 0.7999506529926643, kTol);
  EXPECT_NEAR(learning_rate(o, 204, 0, kSteps), 4.934700733576492e-05, kTol);  // last epoch
  EXPECT_NEAR(learning_rate(o, 205, 0, kSteps), 0.0, kTol);
}

TEST(LrCosine, IsConstantWithinAnEpochAndDecreasing) {
  const auto o = options(2);
  double previous = learning_rate(o, 5, 0, kSteps);
  for (std::int64_t epoch = 5; epoch < 205; ++epoch) {
    const double first = learning_rate(o, epoch, 0, kSteps);
    for (std::int64_t step = 1; step < kSteps; ++step) {
      EXPECT_EQ(learning_rate(o, epoch, step, kSteps), first);
    }
    EXPECT_LE(first, previous);
    previous = first;
  }
}

TEST(LrMultistep, DropsAtTheMilestonesCountedFromTheStart) {
  auto o = options(8);  // scaled 0.8
  o.name = "multistep";
  o.num_epochs = 90;
  o.milestones = {30, 60, 80};
  // Scheduler epochs 25, 55, 75 after the 5-epoch ramp: the drops land at epochs 30, 60, 80.
  EXPECT_EQ(learning_rate(o, 5, 0, kSteps), 0.8);
  EXPECT_EQ(learning_rate(o, 29, 9, kSteps), 0.8);
  EXPECT_NEAR(learning_rate(o, 30, 0, kSteps), 0.08, kTol);
  EXPECT_NEAR(learning_rate(o, 59, 9, kSteps), 0.08, kTol);
  EXPECT_NEAR(learning_rate(o, 60, 0, kSteps), 0.008, kTol);
  EXPECT_NEAR(learning_rate(o, 79, 9, kSteps), 0.008, kTol);
  EXPECT_NEAR(learning_rate(o, 80, 0, kSteps), 0.0008, kTol);
  EXPECT_NEAR(learning_rate(o, 89, 9, kSteps), 0.0008, kTol);
  // The ramp is the same as cosine's.
  EXPECT_NEAR(learning_rate(o, 2, 5, kSteps), 0.45, kTol);
}

TEST(LrMultistep, Gamma) {
  auto o = options(1);
  o.name = "multistep";
  o.milestones = {10};
  o.gamma = 0.5;
  EXPECT_NEAR(learning_rate(o, 9, 0, kSteps), 0.1, kTol);
  EXPECT_NEAR(learning_rate(o, 10, 0, kSteps), 0.05, kTol);
}

TEST(LrConstant, StaysAtTheScaledLr) {
  auto o = options(2);
  o.name = "constant";
  EXPECT_NEAR(learning_rate(o, 2, 5, kSteps), 0.15, kTol);
  EXPECT_EQ(learning_rate(o, 5, 0, kSteps), 0.2);
  EXPECT_EQ(learning_rate(o, 1000, 3, kSteps), 0.2);
}

// --- errors ----------------------------------------------------------------------------------

void expect_error(const LrScheduleOptions& o, const std::string& what) {
  EXPECT_THAT([&] { check_lr_schedule_options(o); },
              ThrowsMessage<dgc::Error>(AllOf(HasSubstr("lr schedule"), HasSubstr(what))));
  EXPECT_THAT([&] { learning_rate(o, 6, 0, kSteps); }, ThrowsMessage<dgc::Error>(HasSubstr(what)));
}

TEST(LrScheduleErrors, BadOptionsNameTheField) {
  auto o = options(2);
  o.name = "step";
  expect_error(o, "unknown name 'step'");

  o = options(2);
  o.num_epochs = 5;  // T_max = 0
  expect_error(o, "T_max");
  o.num_epochs = 3;
  expect_error(o, "T_max");

  o = options(2);
  o.base_lr = -0.1;
  expect_error(o, "base_lr");
  o.base_lr = 0;
  expect_error(o, "base_lr");

  o = options(2);
  o.world_size = 0;
  expect_error(o, "world_size");

  o = options(2);
  o.num_batches_per_step = -1;
  expect_error(o, "num_batches_per_step");

  o = options(2);
  o.warmup_lr_epochs = -1;
  expect_error(o, "warmup_lr_epochs");
  o.warmup_lr_epochs = 2.5;
  expect_error(o, "warmup_lr_epochs");

  o = options(2);
  o.num_epochs = -1;
  o.name = "constant";
  expect_error(o, "num_epochs");
}

TEST(LrScheduleErrors, BadMultistepOptions) {
  auto o = options(2);
  o.name = "multistep";
  o.milestones = {30, 60};
  o.gamma = 0;
  expect_error(o, "gamma");

  o.gamma = 0.1;
  o.milestones = {5, 60};  // at the ramp's end: never reached by the seed's scheduler
  expect_error(o, "milestones[0]");
  o.milestones = {30, 30};
  expect_error(o, "strictly increasing");
  o.milestones = {60, 30};
  expect_error(o, "milestones[1]");
}

TEST(LrScheduleErrors, BadPosition) {
  const auto o = options(2);
  EXPECT_THAT([&] { learning_rate(o, -1, 0, kSteps); },
              ThrowsMessage<dgc::Error>(HasSubstr("epoch must be >= 0")));
  EXPECT_THAT([&] { learning_rate(o, 0, 0, 0); },
              ThrowsMessage<dgc::Error>(HasSubstr("steps_per_epoch")));
  EXPECT_THAT([&] { learning_rate(o, 0, kSteps, kSteps); },
              ThrowsMessage<dgc::Error>(HasSubstr("step_in_epoch")));
  EXPECT_THAT([&] { learning_rate(o, 0, -1, kSteps); },
              ThrowsMessage<dgc::Error>(HasSubstr("step_in_epoch")));
}

}  // namespace
}  // namespace dgc::train
