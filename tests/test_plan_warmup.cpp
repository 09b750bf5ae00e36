// Plans (ALGORITHM.md section 3), warm-up (section 6) and option validation (section 2).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "dgc/error.h"
#include "dgc/options.h"
#include "dgc/plan.h"
#include "dgc/warmup.h"

namespace {

struct ExpectedPlan {
  std::int64_t numel, stride, num_samples, top_k_samples, num_selects;
  bool tiny;
};

TEST(Plan, KnownSizesAtRatio0001) {
  // Worked out by hand from the original's formula (and cross-checked against it).
  const ExpectedPlan expected[] = {
      {1000, 1, 1000, 1, 1, true},           {2000, 1, 2000, 2, 2, true},
      {2001, 1, 2001, 3, 3, false},          {25088, 9, 2787, 3, 26, false},
      {2359296, 97, 24322, 25, 2360, false},
  };
  for (const auto& e : expected) {
    SCOPED_TRACE(e.numel);
    const auto p = dgc::make_plan(e.numel, 0.001, 0.01);
    EXPECT_EQ(p.numel, e.numel);
    EXPECT_EQ(p.stride, e.stride);
    EXPECT_EQ(p.num_samples, e.num_samples);
    EXPECT_EQ(p.top_k_samples, e.top_k_samples);
    EXPECT_EQ(p.num_selects, e.num_selects);
    EXPECT_EQ(p.tiny, e.tiny);
  }
}

TEST(Plan, SampleRatioOneSamplesEverything) {
  const auto p = dgc::make_plan(2359296, 0.001, 1.0);
  EXPECT_EQ(p.stride, 1);
  EXPECT_EQ(p.num_samples, 2359296);
  EXPECT_EQ(p.top_k_samples, 2360);
  EXPECT_EQ(p.num_selects, 2360);
}

// Found by reading make_plan, shown with fuzz-config on a config of compress_ratio: 1.0e-300
// (validate() accepts it): 2 / ratio was converted to int64 out of range, undefined behaviour
// (UBSan: "2e+300 is outside the range of representable values of type 'long'"). Now such a
// ratio gives a tiny plan that sends one element.
TEST(Plan, TinyRatioGivesATinyPlan) {
  for (const double ratio : {1e-300, 1e-19, 4.9e-324}) {
    SCOPED_TRACE(ratio);
    const auto p = dgc::make_plan(8, ratio, 0.01);
    EXPECT_TRUE(p.tiny);
    EXPECT_EQ(p.stride, 1);
    EXPECT_EQ(p.num_samples, 8);
    EXPECT_EQ(p.top_k_samples, 1);
    EXPECT_EQ(p.num_selects, 1);
  }
}

TEST(Warmup, SeedWm5List) {
  dgc::CompressorOptions o;
  o.warmup_epochs = 5;
  o.warmup_coeff = std::vector<double>{0.25, 0.063, 0.015, 0.004, 0.001};
  const double expected[] = {0.25, 0.063, 0.015, 0.004, 0.001, 0.001, 0.001};
  for (int e = 0; e < 7; ++e)
    EXPECT_DOUBLE_EQ(dgc::compress_ratio_for_epoch(o, e), expected[e]) << e;
}

TEST(Warmup, DefaultCoefficientReachesTheRatioAfterWarmup) {
  dgc::CompressorOptions o;
  o.warmup_epochs = 5;  // coefficient 0.001^(1/6)
  const double expected[] = {
      0.31622776601683794, 0.1, 0.0316227766016838, 0.01, 0.00316227766016838, 0.001, 0.001};
  for (int e = 0; e < 7; ++e)
    EXPECT_NEAR(dgc::compress_ratio_for_epoch(o, e), expected[e], 1e-15) << e;
}

TEST(Warmup, ExplicitCoefficient) {
  dgc::CompressorOptions o;
  o.warmup_epochs = 3;
  o.warmup_coeff = 0.5;
  o.compress_ratio = 1000;  // > 1 means 1/1000
  EXPECT_DOUBLE_EQ(dgc::compress_ratio_for_epoch(o, 0), 0.5);
  EXPECT_DOUBLE_EQ(dgc::compress_ratio_for_epoch(o, 1), 0.25);
  EXPECT_DOUBLE_EQ(dgc::compress_ratio_for_epoch(o, 2), 0.125);
  EXPECT_DOUBLE_EQ(dgc::compress_ratio_for_epoch(o, 3), 0.001);
}

// Found by reading, shown with fuzz-config on a config of warmup_epochs: 2147483647:
// warmup_epochs + 1 overflowed int, undefined behaviour (UBSan: signed integer overflow).
TEST(Warmup, LargestWarmupEpochsDoesNotOverflow) {
  dgc::CompressorOptions o;
  o.warmup_epochs = std::numeric_limits<int>::max();
  const double ratio = dgc::compress_ratio_for_epoch(o, 0);
  EXPECT_GT(ratio, 0.001);
  EXPECT_LT(ratio, 1.0);
}

TEST(Warmup, NoneWhenWarmupEpochsNotPositive) {
  dgc::CompressorOptions o;
  o.warmup_coeff = std::vector<double>{1.0};
  EXPECT_DOUBLE_EQ(dgc::compress_ratio_for_epoch(o, 0), 0.001);
}

// Expects validate() to throw a dgc::Error whose message contains `needle`.
void expect_rejected(const dgc::CompressorOptions& o, const std::string& needle) {
  try {
    dgc::validate(o);
    ADD_FAILURE() << "accepted, expected an error mentioning " << needle;
  } catch (const dgc::Error& e) {
    EXPECT_NE(e.message().find(needle), std::string::npos) << e.message();
  }
}

TEST(Options, DefaultsAreValid) { EXPECT_NO_THROW(dgc::validate(dgc::CompressorOptions{})); }

TEST(Options, BadSettingsAreRejectedByName) {
  dgc::CompressorOptions o;
  o.compress_ratio = 0;
  expect_rejected(o, "compress_ratio must be > 0, got 0");
  o = {};
  o.compress_ratio = -0.5;
  expect_rejected(o, "compress_ratio must be > 0");
  o = {};
  o.sample_ratio = 0;
  expect_rejected(o, "sample_ratio must be in (0, 1], got 0");
  o = {};
  o.sample_ratio = 1.5;
  expect_rejected(o, "sample_ratio must be in (0, 1], got 1.5");
  o = {};
  o.compress_lower_bound = 1.0;
  o.compress_upper_bound = 1.0;
  expect_rejected(o, "compress_lower_bound (1) must be below compress_upper_bound (1)");
  o = {};
  o.compress_upper_bound = 0.8;
  o.compress_lower_bound = 0.9;
  expect_rejected(o, "compress_upper_bound must be >= 1, got 0.8");
  o = {};
  o.max_adaptation_iters = -1;
  expect_rejected(o, "max_adaptation_iters must be >= 0");
}

TEST(Options, WarmupListIsChecked) {
  dgc::CompressorOptions o;
  o.warmup_epochs = 5;
  o.warmup_coeff = std::vector<double>{0.25, 0.063, 0.015};
  expect_rejected(o, "warmup_coeff has 3 values but warmup_epochs is 5");
  o.warmup_coeff = std::vector<double>{0.25, 0.063, 0.0, 0.004, 0.001};
  expect_rejected(o, "warmup_coeff[2] must be in (0, 1], got 0");
  o.warmup_coeff = std::vector<double>{0.25, 1.5, 0.015, 0.004, 0.001};
  expect_rejected(o, "warmup_coeff[1] must be in (0, 1], got 1.5");
  o.warmup_coeff = 2.0;
  expect_rejected(o, "warmup_coeff must be in (0, 1], got 2");
}

TEST(Options, SmallSampleRatioIsRaisedLikeTheOriginal) {
  dgc::CompressorOptions o;
  o.sample_ratio = 0.001;
  EXPECT_NO_THROW(dgc::validate(o));
  EXPECT_DOUBLE_EQ(dgc::effective_sample_ratio(o), 0.01);
}

TEST(Options, MemorySettingsAreChecked) {
  dgc::MemoryOptions m;
  m.gradient_clipping.kind = dgc::GradientClipping::Kind::kNorm;
  m.gradient_clipping.max_norm = 1.0;
  m.gradient_clipping.norm_type = 1.0;
  try {
    dgc::validate(m);
    ADD_FAILURE() << "norm_type 1 accepted";
  } catch (const dgc::Error& e) {
    EXPECT_NE(e.message().find("gradient_clipping.norm_type must be 2 or inf"), std::string::npos);
  }
  m.momentum = -1;
  EXPECT_THROW(dgc::validate(m), dgc::Error);
}

}  // namespace
