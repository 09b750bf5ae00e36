#include "run_settings.h"

#include <limits>

#include "dgc/error.h"

namespace dgc::train {

namespace {

// A setting whose consumer takes an int: 4294967297 must be an error, not a silent 1.
int int_setting(const Config& c, const std::string& key) {
  const std::int64_t value = c.get<std::int64_t>(key);
  DGC_CHECK(value >= std::numeric_limits<int>::min() && value <= std::numeric_limits<int>::max(),
            "config: ", key, " = ", value, " does not fit in an int (",
            std::numeric_limits<int>::min(), " .. ", std::numeric_limits<int>::max(), ")");
  return static_cast<int>(value);
}

std::vector<float> floats(const Config& c, const std::string& key) {
  std::vector<float> out;
  for (double v : c.get<std::vector<double>>(key)) out.push_back(static_cast<float>(v));
  return out;
}

// ALGORITHM.md section 6: null, one number, or one ratio per warm-up epoch.
WarmupCoeff warmup_coeff(const Config& c) {
  const std::string key = "train.compression.warmup_coeff";
  if (c.is_null(key)) return std::monostate{};
  if (c.is_list(key)) return c.get<std::vector<double>>(key);
  return c.get<double>(key);
}

GradientClipping clipping(const Config& c) {
  const std::string key = "train.compression.memory.gradient_clipping";
  GradientClipping clip;
  if (c.is_null(key)) return clip;
  const auto kind = c.get<std::string>(key + ".kind");
  using Kind = GradientClipping::Kind;
  if (kind == "norm") {
    clip.kind = Kind::kNorm;
  } else if (kind == "value") {
    clip.kind = Kind::kValue;
  } else if (kind == "global_norm") {
    clip.kind = Kind::kGlobalNorm;
  } else if (kind == "global_value") {
    clip.kind = Kind::kGlobalValue;
  } else {
    DGC_FAIL("config: ", key, ".kind must be norm, value, global_norm or global_value, got '", kind,
             "'");
  }
  if (c.has(key + ".max_norm")) clip.max_norm = c.get<double>(key + ".max_norm");
  if (c.has(key + ".norm_type")) clip.norm_type = c.get<double>(key + ".norm_type");
  if (c.has(key + ".clip_value")) clip.clip_value = c.get<double>(key + ".clip_value");
  return clip;
}

Augmentation augmentation(const RunSettings& s, const Config& c, bool train) {
  Augmentation a;
  const bool augment = train && c.get<bool>("dataset.augment");
  // The seed's CIFAR recipe: a random crop with 4 pixels of padding at 32x32, scaled down for
  // smaller images (2 at 28x28), and a horizontal flip.
  a.pad = augment ? (s.image_size >= 32 ? 4 : 2) : 0;
  a.flip = augment;
  a.mean = floats(c, "dataset.mean");
  a.std = floats(c, "dataset.std");
  DGC_CHECK(a.mean.size() == a.std.size() &&
                (a.mean.empty() || static_cast<std::int64_t>(a.mean.size()) == s.num_channels),
            "config: dataset.mean and dataset.std need one value per channel (", s.num_channels,
            ") or none, got ", a.mean.size(), " and ", a.std.size());
  return a;
}

}  // namespace

RunSettings read_settings(const Config& c) {
  RunSettings s;
  s.seed = static_cast<std::uint64_t>(c.get<std::int64_t>("seed"));
  s.dataset = c.get<std::string>("dataset.name");
  DGC_CHECK(s.dataset == "fashion-mnist" || s.dataset == "cifar10" || s.dataset == "synthetic",
            "config: dataset.name must be fashion-mnist, cifar10 or synthetic, got '", s.dataset,
            "'");
  s.dataset_root = c.get<std::string>("dataset.root");
  s.num_classes = c.get<std::int64_t>("dataset.num_classes");
  s.image_size = c.get<std::int64_t>("dataset.image_size");
  s.num_channels = c.get<std::int64_t>("dataset.num_channels");
  s.train_augmentation = augmentation(s, c, true);
  s.test_augmentation = augmentation(s, c, false);
  s.prefetch_batches = c.get<std::int64_t>("data.prefetch_batches");

  s.model = c.get<std::string>("model.name");
  s.num_epochs = c.get<std::int64_t>("train.num_epochs");
  s.stop_after_epochs = c.get<std::int64_t>("train.stop_after_epochs");
  s.batch_size = c.get<std::int64_t>("train.batch_size");
  s.num_batches_per_step = int_setting(c, "train.num_batches_per_step");
  s.eval_batch_size = c.get<std::int64_t>("evaluate.batch_size");
  DGC_CHECK(s.num_epochs >= 1, "config: train.num_epochs must be >= 1, got ", s.num_epochs);
  DGC_CHECK(s.batch_size >= 1 && s.eval_batch_size >= 1,
            "config: train.batch_size and evaluate.batch_size must be >= 1");
  DGC_CHECK(s.num_batches_per_step >= 1, "config: train.num_batches_per_step must be >= 1, got ",
            s.num_batches_per_step);
  DGC_CHECK(c.get<std::string>("train.optimizer.name") == "sgd",
            "config: train.optimizer.name: only sgd is supported");
  s.lr = c.get<double>("train.optimizer.lr");
  s.momentum = c.get<double>("train.optimizer.momentum");
  s.weight_decay = c.get<double>("train.optimizer.weight_decay");
  s.nesterov = c.get<bool>("train.optimizer.nesterov");
  s.dampening = c.get<double>("train.optimizer.dampening");
  s.optimize_bn_separately = c.get<bool>("train.optimize_bn_separately");

  s.schedule.base_lr = s.lr;
  s.schedule.num_batches_per_step = static_cast<int>(s.num_batches_per_step);
  s.schedule.warmup_lr_epochs = c.get<double>("train.schedule.warmup_lr_epochs");
  s.schedule.name = c.get<std::string>("train.schedule.name");
  s.schedule.num_epochs = s.num_epochs;
  s.schedule.milestones = c.get<std::vector<std::int64_t>>("train.schedule.milestones");
  s.schedule.gamma = c.get<double>("train.schedule.gamma");
  if (s.schedule.name != "multistep") s.schedule.milestones.clear();
  check_lr_schedule_options(s.schedule);

  s.dgc = c.get<bool>("train.dgc");
  const std::string k = "train.compression.";
  auto& o = s.compressor;
  o.compress_ratio = c.get<double>(k + "compress_ratio");
  o.sample_ratio = c.get<double>(k + "sample_ratio");
  o.strided_sample = c.get<bool>(k + "strided_sample");
  o.compress_upper_bound = c.get<double>(k + "compress_upper_bound");
  o.compress_lower_bound = c.get<double>(k + "compress_lower_bound");
  o.max_adaptation_iters = int_setting(c, k + "max_adaptation_iters");
  o.resample = c.get<bool>(k + "resample");
  o.fp16_values = c.get<bool>(k + "fp16_values");
  o.int32_indices = c.get<bool>(k + "int32_indices");
  o.warmup_epochs = int_setting(c, k + "warmup_epochs");
  o.warmup_coeff = warmup_coeff(c);
  o.seed = s.seed;
  validate(o);
  // The memory's momentum is the optimizer's unless set (the seed copies it).
  const std::string m = k + "memory.";
  s.memory.momentum = c.is_null(m + "momentum") ? s.momentum : c.get<double>(m + "momentum");
  s.memory.nesterov = c.is_null(m + "nesterov") ? s.nesterov : c.get<bool>(m + "nesterov");
  s.memory.momentum_masking = c.get<bool>(m + "momentum_masking");
  s.memory.gradient_clipping = clipping(c);
  validate(s.memory);

  s.runs_dir = c.get<std::string>("logging.runs_dir");
  s.metric = c.get<std::string>("train.metric");
  DGC_CHECK(s.metric == "acc/test_top1" || s.metric == "acc/test_top5",
            "config: train.metric must be acc/test_top1 or acc/test_top5, got '", s.metric, "'");
  s.log_every_steps = c.get<std::int64_t>("logging.log_every_steps");
  s.progress_bar = c.get<bool>("logging.progress_bar");
  s.tensorboard = c.get<bool>("logging.tensorboard");
  return s;
}

}  // namespace dgc::train
