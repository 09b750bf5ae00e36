// Tests of read_settings (apps/train/run_settings.h) on the real configs: every shipped file reads,
// and every numeric key given a value the program cannot use is one error naming the dotted key,
// the allowed range and the value (issue 11: `logging.log_every_steps: 0` was a SIGFPE).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "error_of.h"
#include "run_settings.h"
#include "setting_changes.h"

namespace dgc::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kConfigs = std::string(DGC_SOURCE_DIR) + "/configs";

RunSettings settings(const std::vector<std::string>& overrides) {
  return read_settings(load_config({kConfigs + "/default.yaml"}, overrides));
}

TEST(Settings, EveryShippedConfigReads) {
  int count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kConfigs)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    // The dgc/ files are meant on top of a model's file, as in the seed's README.
    std::vector<std::string> files;
    if (entry.path().parent_path().filename() == "dgc")
      files.push_back(kConfigs + "/fmnist/convnet.yaml");
    files.push_back(entry.path().string());
    EXPECT_NO_THROW(read_settings(load_config(files, {})));
    ++count;
  }
  EXPECT_GT(count, 10);
}

TEST(Settings, DefaultsAndEdgesOfTheRanges) {
  const RunSettings s = settings({});
  EXPECT_EQ(s.log_every_steps, 10);
  EXPECT_EQ(s.num_classes, 10);
  // The smallest and largest values each range allows.
  EXPECT_NO_THROW(settings({"seed=0", "data.prefetch_batches=1", "dataset.num_classes=2",
                            "train.num_epochs=6", "train.stop_after_epochs=6", "train.batch_size=1",
                            "train.num_batches_per_step=1", "evaluate.batch_size=1",
                            "train.optimizer.momentum=0", "train.optimizer.weight_decay=0",
                            "train.optimizer.dampening=1", "train.schedule.warmup_lr_epochs=0",
                            "logging.log_every_steps=1", "train.compression.max_adaptation_iters=0",
                            "train.compression.memory.momentum=0"}));
  EXPECT_EQ(settings({"dataset.num_classes=5"}).num_classes, 5);
  EXPECT_EQ(s.bucket_bytes, 25 << 20);
  EXPECT_TRUE(s.overlap);
  EXPECT_FALSE(s.timeline);
  const RunSettings exchange = settings({"distributed.bucket_mb=0.5", "distributed.overlap=false",
                                         "logging.timeline=true", "logging.timeline_steps=3"});
  EXPECT_EQ(exchange.bucket_bytes, 1 << 19);
  EXPECT_FALSE(exchange.overlap);
  EXPECT_EQ(s.wait, WaitPolicy::kBlock);
  EXPECT_EQ(settings({"distributed.wait=sleep"}).wait, WaitPolicy::kSleep);
  EXPECT_TRUE(s.comm_thread_cpus.empty());
  EXPECT_EQ(settings({"distributed.comm_thread_cpus=[1, 0]"}).comm_thread_cpus,
            (std::vector<int>{1, 0}));
  EXPECT_TRUE(exchange.timeline);
  EXPECT_EQ(exchange.timeline_steps, 3);
  EXPECT_NO_THROW(settings({"dataset.name=synthetic", "dataset.num_classes=7",
                            "dataset.image_size=5", "dataset.num_channels=2"}));
  EXPECT_NO_THROW(settings({"dataset.mean=[0.5]", "dataset.std=[0.25]"}));
  EXPECT_NO_THROW(settings({"train.schedule.name=multistep", "train.schedule.milestones=[6, 7]",
                            "train.schedule.gamma=2"}));
  // Nesterov needs momentum only where torch's SGD applies it: not under DGC.
  EXPECT_NO_THROW(settings({"train.optimizer.nesterov=true", "train.optimizer.momentum=0",
                            "train.dgc=true", "train.compression.memory.momentum=0.9"}));
  EXPECT_NO_THROW(
      settings({"train.compression.memory.gradient_clipping={kind: norm, max_norm: 1, "
                "norm_type: .inf}"}));
}

// train.exchange auto follows the seed's train.dgc; an explicit exchange that agrees with it.
TEST(Settings, TheExchangeFollowsTrainDgc) {
  EXPECT_EQ(settings({}).exchange, "allreduce");
  EXPECT_EQ(settings({"train.dgc=true"}).exchange, "dgc");
  EXPECT_TRUE(settings({"train.dgc=true"}).dgc);
  EXPECT_EQ(settings({"train.exchange=bf16"}).exchange, "bf16");
  EXPECT_EQ(settings({"train.dgc=true", "train.exchange=dgc"}).exchange, "dgc");
  EXPECT_EQ(settings({"train.dgc=true", "train.exchange=dgc_hierarchical"}).exchange,
            "dgc_hierarchical");
  EXPECT_TRUE(settings({}).dgc_exchange.dense_fallback);
  EXPECT_FALSE(settings({"train.compression.dense_fallback=false"}).dgc_exchange.dense_fallback);
}

// The wire: encoded by default; raw with int32 indices on request; bf16 values; the combinations
// that cannot work are one error naming the key.
TEST(Settings, WireKeysReachTheHookAndTheCompressor) {
  EXPECT_EQ(settings({"train.dgc=true", "train.exchange=dgc_reduce_scatter"}).exchange,
            "dgc_reduce_scatter");
  EXPECT_EQ(settings({}).dgc_exchange.encoding, WireEncoding::kEncoded);
  const RunSettings raw =
      settings({"train.compression.wire_encoding=raw", "train.compression.int32_indices=true"});
  EXPECT_EQ(raw.dgc_exchange.encoding, WireEncoding::kRaw);
  EXPECT_TRUE(raw.compressor.int32_indices);
  EXPECT_TRUE(settings({"train.compression.bf16_values=true"}).compressor.bf16_values);
  EXPECT_THAT(test::thrown_error_of([] { settings({"train.compression.wire_encoding=zip"}); }),
              HasSubstr("train.compression.wire_encoding: 'zip' is not a wire encoding"));
  EXPECT_THAT(test::thrown_error_of([] { settings({"train.compression.int32_indices=true"}); }),
              HasSubstr("train.compression.int32_indices applies to the raw wire format only"));
  EXPECT_THAT(
      test::thrown_error_of([] {
        settings({"train.compression.fp16_values=true", "train.compression.bf16_values=true"});
      }),
      HasSubstr("fp16_values and bf16_values are both set"));
}

// train.exchange_cost: a forced scheme, configured links (microseconds, Gbit/s) or none.
TEST(Settings, ExchangeCostKeysReachDgcAuto) {
  const RunSettings measured = settings({"train.dgc=true", "train.exchange=dgc_auto"});
  EXPECT_EQ(measured.exchange, "dgc_auto");
  EXPECT_FALSE(measured.dgc_auto.costs.has_value());
  EXPECT_FALSE(measured.dgc_auto.force.has_value());
  const RunSettings s = settings(
      {"train.exchange_cost.scheme=reduce_scatter", "train.exchange_cost.network_latency_us=50",
       "train.exchange_cost.network_gbit_s=10", "train.exchange_cost.node_latency_us=1",
       "train.exchange_cost.node_gbit_s=200"});
  ASSERT_TRUE(s.dgc_auto.force.has_value());
  EXPECT_EQ(*s.dgc_auto.force, DgcScheme::kReduceScatter);
  ASSERT_TRUE(s.dgc_auto.costs.has_value());
  EXPECT_DOUBLE_EQ(s.dgc_auto.costs->network.latency_seconds, 50e-6);
  EXPECT_DOUBLE_EQ(s.dgc_auto.costs->network.bytes_per_second, 10e9 / 8);
  EXPECT_DOUBLE_EQ(s.dgc_auto.costs->node.latency_seconds, 1e-6);
  EXPECT_DOUBLE_EQ(s.dgc_auto.costs->node.bytes_per_second, 200e9 / 8);
  EXPECT_THAT(test::thrown_error_of([] { settings({"train.exchange_cost.scheme=ring"}); }),
              HasSubstr("train.exchange_cost.scheme: 'ring' is not a scheme"));
  EXPECT_THAT(test::thrown_error_of([] { settings({"train.exchange_cost.network_gbit_s=10"}); }),
              HasSubstr("set all four, or none (measured), got 1"));
  EXPECT_THAT(
      test::thrown_error_of([] {
        settings({"train.exchange_cost.network_latency_us=1",
                  "train.exchange_cost.network_gbit_s=0", "train.exchange_cost.node_latency_us=1",
                  "train.exchange_cost.node_gbit_s=1"});
      }),
      HasSubstr("train.exchange_cost.network_gbit_s must be"));
}

// train.powersgd's keys reach PowerSgdOptions; their defaults are the library's, the seed the
// run's.
TEST(Settings, PowerSgdKeysReachItsOptions) {
  const RunSettings defaults = settings({"train.exchange=powersgd", "seed=7"});
  EXPECT_EQ(defaults.exchange, "powersgd");
  EXPECT_FALSE(defaults.dgc);
  const PowerSgdOptions library;
  EXPECT_EQ(defaults.powersgd.matrix_approximation_rank, library.matrix_approximation_rank);
  EXPECT_EQ(defaults.powersgd.start_powerSGD_iter, library.start_powerSGD_iter);
  EXPECT_EQ(defaults.powersgd.min_compression_rate, library.min_compression_rate);
  EXPECT_EQ(defaults.powersgd.use_error_feedback, library.use_error_feedback);
  EXPECT_EQ(defaults.powersgd.warm_start, library.warm_start);
  EXPECT_EQ(defaults.powersgd.orthogonalization_epsilon, library.orthogonalization_epsilon);
  EXPECT_EQ(defaults.powersgd.seed, 7u);
  const RunSettings s = settings(
      {"train.exchange=powersgd", "train.powersgd.rank=4", "train.powersgd.start_iter=0",
       "train.powersgd.min_compression_rate=0", "train.powersgd.warm_start=false",
       "train.powersgd.error_feedback=false", "train.powersgd.orthogonalization_epsilon=1e-8"});
  EXPECT_EQ(s.powersgd.matrix_approximation_rank, 4);
  EXPECT_EQ(s.powersgd.start_powerSGD_iter, 0);
  EXPECT_EQ(s.powersgd.min_compression_rate, 0);
  EXPECT_FALSE(s.powersgd.warm_start);
  EXPECT_FALSE(s.powersgd.use_error_feedback);
  EXPECT_EQ(s.powersgd.orthogonalization_epsilon, 1e-8);
}

TEST(Settings, ImageNetTransformsFollowTheCropSize) {
  const RunSettings s = read_settings(load_config({kConfigs + "/imagenet/resnet50.yaml"}, {}));
  EXPECT_EQ(s.dataset, "imagenet");
  EXPECT_TRUE(s.train_transform.train);
  EXPECT_TRUE(s.train_transform.flip);
  EXPECT_EQ(s.train_transform.output_size, 224);
  EXPECT_FALSE(s.test_transform.train);
  EXPECT_EQ(s.test_transform.output_size, 224);
  EXPECT_EQ(s.test_transform.resize_size, 256);
  EXPECT_EQ(s.test_transform.mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(s.loader_workers, 4);
  const RunSettings small = read_settings(load_config(
      {kConfigs + "/imagenet/resnet18.yaml"}, {"dataset.image_size=64", "dataset.augment=false"}));
  EXPECT_EQ(small.test_transform.resize_size, 73);  // 64 * 256 / 224, rounded
  EXPECT_FALSE(small.train_transform.train);        // no augmentation: the evaluation transform
}

// changed_settings: what a resume refuses, as "key: old -> new".
std::vector<std::string> changes(const std::string& checkpoint_yaml,
                                 const std::vector<std::string>& overrides) {
  const Config config = load_config({kConfigs + "/default.yaml"}, overrides);
  std::vector<std::string> out;
  for (const auto& c : changed_settings(checkpoint_yaml, config, schema_of(config))) {
    out.push_back(c.text);
  }
  return out;
}

TEST(SettingChanges, TrainingKeysAreChangesAndTheOthersAreNot) {
  const std::string before = load_config({kConfigs + "/default.yaml"}, {}).to_yaml();
  EXPECT_TRUE(changes(before, {}).empty());
  EXPECT_EQ(
      changes(before, {"train.optimizer.lr=0.5", "logging.log_every_steps=3", "data.num_workers=4",
                       "dataset.root=/elsewhere", "train.stop_after_epochs=1"}),
      (std::vector<std::string>{"train.optimizer.lr: 0.1 -> 0.5"}));
}

// A checkpoint of a version whose schema lacked a key: it behaved as the key's default does.
TEST(SettingChanges, AKeyAddedSinceTheCheckpointIsAChangeOnlyAwayFromItsDefault) {
  YAML::Node old = YAML::Load(load_config({kConfigs + "/default.yaml"}, {}).to_yaml());
  old["model"].remove("zero_init_residual");
  old["dataset"].remove("synthetic_train_size");
  old["device"] = "cpu";  // a key the schema has since lost
  YAML::Emitter text;
  text << old;
  const std::string before = text.c_str();
  EXPECT_TRUE(changes(before, {}).empty());
  EXPECT_EQ(changes(before, {"model.zero_init_residual=true", "dataset.synthetic_train_size=64"}),
            (std::vector<std::string>{"dataset.synthetic_train_size: (absent) -> 64",
                                      "model.zero_init_residual: (absent) -> true"}));
}

struct BadValue {
  std::vector<std::string> overrides;  // the last one is the bad value
  std::string message;                 // expected at the start of the error's message
};

std::ostream& operator<<(std::ostream& out, const BadValue& b) { return out << b.overrides.back(); }

class BadSetting : public ::testing::TestWithParam<BadValue> {};

TEST_P(BadSetting, IsOneErrorNamingTheKey) {
  const std::string message = dgc::test::thrown_error_of([] { settings(GetParam().overrides); });
  EXPECT_THAT(message, StartsWith(GetParam().message));
}

const std::string kClip = "train.compression.memory.gradient_clipping";
const std::string kSynthetic = "dataset.name=synthetic";
const std::string kMultistep = "train.schedule.name=multistep";
const std::string kImageNet = "dataset.name=imagenet";

INSTANTIATE_TEST_SUITE_P(
    DefaultYaml, BadSetting,
    ::testing::Values(
        BadValue{{"seed=-1"}, "config: seed must be >= 0, got -1"},
        BadValue{{"data.prefetch_batches=0"}, "config: data.prefetch_batches must be >= 1, got 0"},
        BadValue{{"data.num_workers=0"}, "config: data.num_workers must be in [1, 64], got 0"},
        BadValue{{kSynthetic, "dataset.synthetic_train_size=0"},
                 "config: dataset.synthetic_train_size must be >= 1, got 0"},
        BadValue{{kSynthetic, "dataset.synthetic_test_size=-2"},
                 "config: dataset.synthetic_test_size must be >= 1, got -2"},
        BadValue{{kImageNet, "dataset.num_channels=1"},
                 "config: dataset.num_channels must be 3 for imagenet"},
        BadValue{{kImageNet, "dataset.num_channels=3", "dataset.image_size=4"},
                 "config: dataset.image_size must be in [8, 1024] for imagenet, got 4"},
        BadValue{{kImageNet, "dataset.num_channels=3", "dataset.mean=[0.5]", "dataset.std=[0.5]"},
                 "config: dataset.mean and dataset.std need three values (R, G, B) for imagenet, "
                 "got 1 and 1"},
        BadValue{{"dataset.num_classes=1"}, "config: dataset.num_classes must be >= 2, got 1"},
        BadValue{{kSynthetic, "dataset.num_classes=0"},
                 "config: dataset.num_classes must be >= 2, got 0"},
        BadValue{{"dataset.num_classes=3"},
                 "config: dataset.num_classes must divide fashion-mnist's 10 classes"},
        BadValue{{"dataset.num_classes=20"},
                 "config: dataset.num_classes must divide fashion-mnist's 10 classes"},
        BadValue{{"dataset.name=cifar10", "dataset.num_classes=4"},
                 "config: dataset.num_classes must divide cifar10's 10 classes"},
        BadValue{{kSynthetic, "dataset.image_size=0"},
                 "config: dataset.image_size must be >= 1, got 0"},
        BadValue{{"dataset.image_size=32"},
                 "config: dataset.image_size must be 28 for fashion-mnist, got 32"},
        BadValue{{kSynthetic, "dataset.num_channels=0"},
                 "config: dataset.num_channels must be >= 1, got 0"},
        BadValue{{"dataset.name=cifar10", "dataset.image_size=32", "dataset.num_channels=1"},
                 "config: dataset.num_channels must be 3 for cifar10, got 1"},
        BadValue{{"dataset.mean=[0.5]", "dataset.std=[0]"},
                 "config: dataset.std[0] must be finite and > 0, got 0"},
        BadValue{{"dataset.mean=[.nan]", "dataset.std=[1]"},
                 "config: dataset.mean[0] must be finite, got nan"},
        BadValue{{"train.num_epochs=0"}, "config: train.num_epochs must be >= 1, got 0"},
        BadValue{{"distributed.bucket_mb=0"},
                 "config: distributed.bucket_mb must be in (0, 1e+06], got 0"},
        BadValue{{"distributed.bucket_mb=.inf"},
                 "config: distributed.bucket_mb must be in (0, 1e+06], got inf"},
        BadValue{{"distributed.wait=spin"},
                 "config: distributed.wait must be block or sleep, got 'spin'"},
        BadValue{{"distributed.comm_thread_cpus=[0, -1]"},
                 "config: distributed.comm_thread_cpus[1] must be a core number >= 0, got -1"},
        BadValue{{"logging.timeline_steps=0"},
                 "config: logging.timeline_steps must be >= 1, got 0"},
        BadValue{{"train.stop_after_epochs=-1"},
                 "config: train.stop_after_epochs must be in [0, 10], got -1"},
        BadValue{{"train.stop_after_epochs=11"},
                 "config: train.stop_after_epochs must be in [0, 10], got 11"},
        BadValue{{"train.batch_size=0"}, "config: train.batch_size must be >= 1, got 0"},
        BadValue{{"train.num_batches_per_step=0"},
                 "config: train.num_batches_per_step must be in [1, 2147483647], got 0"},
        BadValue{{"train.num_batches_per_step=4294967297"},
                 "config: train.num_batches_per_step must be in [1, 2147483647], got 4294967297"},
        BadValue{{"evaluate.batch_size=0"}, "config: evaluate.batch_size must be >= 1, got 0"},
        BadValue{{"train.optimizer.lr=0"},
                 "config: train.optimizer.lr must be finite and > 0, got 0"},
        BadValue{{"train.optimizer.lr=-0.1"},
                 "config: train.optimizer.lr must be finite and > 0, got -0.1"},
        BadValue{{"train.optimizer.lr=.nan"},
                 "config: train.optimizer.lr must be finite and > 0, got nan"},
        BadValue{{"train.optimizer.lr=.inf"},
                 "config: train.optimizer.lr must be finite and > 0, got inf"},
        BadValue{{"train.optimizer.momentum=1"},
                 "config: train.optimizer.momentum must be in [0, 1), got 1"},
        BadValue{{"train.optimizer.momentum=-0.5"},
                 "config: train.optimizer.momentum must be in [0, 1), got -0.5"},
        BadValue{{"train.optimizer.weight_decay=-1"},
                 "config: train.optimizer.weight_decay must be finite and >= 0, got -1"},
        BadValue{{"train.optimizer.weight_decay=.inf"},
                 "config: train.optimizer.weight_decay must be finite and >= 0, got inf"},
        BadValue{{"train.optimizer.dampening=1.5"},
                 "config: train.optimizer.dampening must be in [0, 1], got 1.5"},
        BadValue{{"train.optimizer.nesterov=true", "train.optimizer.dampening=0.5"},
                 "config: train.optimizer.nesterov needs train.optimizer.momentum > 0 and "
                 "train.optimizer.dampening 0"},
        BadValue{{"train.schedule.warmup_lr_epochs=-1"},
                 "config: train.schedule.warmup_lr_epochs must be >= 0, got -1"},
        // An integer in the schema: the type check names the key.
        BadValue{{"train.schedule.warmup_lr_epochs=1.5"},
                 "config: wrong type for 'train.schedule.warmup_lr_epochs'"},
        BadValue{{"train.schedule.warmup_lr_epochs=10"},
                 "config: train.schedule.warmup_lr_epochs must be < train.num_epochs (10)"},
        BadValue{{"train.schedule.name=linear"},
                 "config: train.schedule.name must be cosine, multistep or constant"},
        BadValue{{"train.schedule.gamma=0"},
                 "config: train.schedule.gamma must be finite and > 0, got 0"},
        BadValue{{kMultistep, "train.schedule.gamma=.nan"},
                 "config: train.schedule.gamma must be finite and > 0, got nan"},
        BadValue{{kMultistep, "train.schedule.milestones=[-1]"},
                 "config: train.schedule.milestones[0] must be >= 0, got -1"},
        BadValue{{kMultistep, "train.schedule.milestones=[30, 20]"},
                 "config: train.schedule.milestones must be strictly increasing, got 30 then 20"},
        BadValue{{kMultistep, "train.schedule.milestones=[3]"},
                 "config: train.schedule.milestones[0] must be > "
                 "train.schedule.warmup_lr_epochs (5), got 3"},
        BadValue{{"train.exchange=int8"},
                 "config: train.exchange: 'int8' is not an exchange (auto, allreduce, fp16, bf16, "
                 "powersgd, dgc, dgc_hierarchical, dgc_reduce_scatter, dgc_auto)"},
        BadValue{{"train.dgc=true", "train.exchange=fp16"},
                 "config: train.exchange: fp16 is not a DGC exchange, but train.dgc is true"},
        BadValue{{"train.exchange=dgc"},
                 "config: train.exchange: dgc is a DGC exchange: it needs train.dgc: true"},
        BadValue{{"train.exchange=dgc_hierarchical"},
                 "config: train.exchange: dgc_hierarchical is a DGC exchange: it needs train.dgc: "
                 "true"},
        BadValue{{"train.compression.compress_ratio=0"},
                 "config: train.compression.compress_ratio must be > 0, got 0"},
        BadValue{{"train.compression.compress_ratio=.nan"},
                 "config: train.compression.compress_ratio must be > 0, got nan"},
        BadValue{{"train.compression.sample_ratio=0"},
                 "config: train.compression.sample_ratio must be in (0, 1], got 0"},
        BadValue{{"train.compression.sample_ratio=.nan"},
                 "config: train.compression.sample_ratio must be in (0, 1], got nan"},
        BadValue{{"train.compression.compress_upper_bound=0.9"},
                 "config: train.compression.compress_upper_bound must be >= 1, got 0.9"},
        BadValue{{"train.compression.compress_upper_bound=.inf"},
                 "config: train.compression.compress_upper_bound must be >= 1, got inf"},
        BadValue{{"train.compression.compress_lower_bound=0"},
                 "config: train.compression.compress_lower_bound must be in (0, 1], got 0"},
        BadValue{{"train.compression.compress_lower_bound=.nan"},
                 "config: train.compression.compress_lower_bound must be in (0, 1], got nan"},
        BadValue{{"train.compression.compress_upper_bound=1",
                  "train.compression.compress_lower_bound=1"},
                 "config: train.compression.compress_lower_bound (1) must be below "
                 "compress_upper_bound (1)"},
        BadValue{{"train.compression.max_adaptation_iters=-1"},
                 "config: train.compression.max_adaptation_iters must be in [0, 2147483647], "
                 "got -1"},
        BadValue{{"train.compression.warmup_epochs=4294967297"},
                 "config: train.compression.warmup_epochs must be in [-2147483647, 2147483647], "
                 "got 4294967297"},
        BadValue{{"train.compression.warmup_epochs=2", "train.compression.warmup_coeff=[0.5]"},
                 "config: train.compression.warmup_coeff has 1 values but warmup_epochs is 2"},
        BadValue{{"train.compression.warmup_epochs=1", "train.compression.warmup_coeff=[.nan]"},
                 "config: train.compression.warmup_coeff[0] must be in (0, 1], got nan"},
        BadValue{{"train.compression.warmup_epochs=1", "train.compression.warmup_coeff=0"},
                 "config: train.compression.warmup_coeff must be in (0, 1], got 0"},
        BadValue{{"train.compression.memory.momentum=1"},
                 "config: train.compression.memory.momentum must be in [0, 1), got 1"},
        BadValue{{"train.compression.memory.momentum=.nan"},
                 "config: train.compression.memory.momentum must be in [0, 1), got nan"},
        BadValue{{kClip + "={kind: norm, max_norm: 0}"},
                 "config: " + kClip + ".max_norm must be finite and > 0, got 0"},
        BadValue{{kClip + "={kind: global_norm, max_norm: .inf}"},
                 "config: " + kClip + ".max_norm must be finite and > 0, got inf"},
        BadValue{{kClip + "={kind: global_norm}"},
                 "config: " + kClip + ".max_norm must be > 0, got 0"},
        BadValue{{kClip + "={kind: norm, max_norm: 1, norm_type: 1}"},
                 "config: " + kClip + ".norm_type must be 2 or .inf, got 1"},
        BadValue{{kClip + "={kind: norm, max_norm: 1, norm_type: -.inf}"},
                 "config: " + kClip + ".norm_type must be 2 or .inf, got -inf"},
        BadValue{{kClip + "={kind: value, clip_value: -1}"},
                 "config: " + kClip + ".clip_value must be finite and > 0, got -1"},
        BadValue{{kClip + "={kind: value}"}, "config: " + kClip + ".clip_value must be > 0, got 0"},
        BadValue{{kClip + "={kind: norm, max_nrom: 1}"},
                 "config: unknown key '" + kClip + ".max_nrom'"},
        BadValue{{kClip + "=1.5"}, "config: " + kClip + " must be null or a map"},
        BadValue{{"logging.log_every_steps=0"},
                 "config: logging.log_every_steps must be >= 1, got 0"},
        BadValue{{"logging.log_every_steps=-3"},
                 "config: logging.log_every_steps must be >= 1, got -3"}));

const std::string kPowerSgd = "train.exchange=powersgd";

INSTANTIATE_TEST_SUITE_P(
    PowerSgd, BadSetting,
    ::testing::Values(
        BadValue{{kPowerSgd, "train.dgc=true"},
                 "config: train.exchange: powersgd is not a DGC exchange, but train.dgc is true"},
        BadValue{{kPowerSgd, "train.powersgd.rank=0"},
                 "config: train.powersgd.rank must be >= 1, got 0"},
        BadValue{{kPowerSgd, "train.powersgd.rank=1.5"},
                 "config: wrong type for 'train.powersgd.rank'"},
        BadValue{{kPowerSgd, "train.powersgd.start_iter=-1"},
                 "config: train.powersgd.start_iter must be >= 0, got -1"},
        BadValue{{kPowerSgd, "train.powersgd.min_compression_rate=-1"},
                 "config: train.powersgd.min_compression_rate must be finite and >= 0, got -1"},
        BadValue{{kPowerSgd, "train.powersgd.min_compression_rate=.nan"},
                 "config: train.powersgd.min_compression_rate must be finite and >= 0, got nan"},
        BadValue{{kPowerSgd, "train.powersgd.orthogonalization_epsilon=.inf"},
                 "config: train.powersgd.orthogonalization_epsilon must be finite and >= 0, got "
                 "inf"},
        // Read whatever the exchange, like train.compression.
        BadValue{{"train.powersgd.orthogonalization_epsilon=-1"},
                 "config: train.powersgd.orthogonalization_epsilon must be finite and >= 0, got "
                 "-1"}));

}  // namespace
}  // namespace dgc::train
