// Tests of read_settings (apps/train/run_settings.h): the real configs read into typed settings,
// and the values it must refuse with a message naming the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "dgc/error.h"
#include "error_of.h"
#include "run_settings.h"

namespace dgc::train {
namespace {

using dgc::test::thrown_error_of;
using ::testing::HasSubstr;

RunSettings settings(const std::vector<std::string>& overrides) {
  return read_settings(
      load_config({std::string(DGC_SOURCE_DIR) + "/configs/fmnist/convnet.yaml"}, overrides));
}

TEST(Settings, RealConfigReads) {
  const RunSettings s = settings({"train.num_batches_per_step=2"});
  EXPECT_EQ(s.dataset, "fashion-mnist");
  EXPECT_EQ(s.num_batches_per_step, 2);
  EXPECT_EQ(s.schedule.num_batches_per_step, 2);
}

// Found by reading the settings while fuzzing the config loader: these int64 values were
// narrowed to int, so 4294967297 micro-batches ran as 1 and warm-up epochs 4294967298 as 2.
TEST(Settings, IntSettingsOutOfIntRangeAreErrors) {
  for (const std::string key : {"train.num_batches_per_step", "train.compression.warmup_epochs",
                                "train.compression.max_adaptation_iters"}) {
    EXPECT_THAT(thrown_error_of([&] { settings({key + "=4294967297"}); }),
                HasSubstr("config: " + key + " = 4294967297 does not fit in an int"));
    EXPECT_THAT(thrown_error_of([&] { settings({key + "=-4294967295"}); }),
                HasSubstr("config: " + key + " = -4294967295 does not fit in an int"));
  }
}

}  // namespace
}  // namespace dgc::train
