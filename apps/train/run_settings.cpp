#include "run_settings.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "dgc/error.h"

namespace dgc::train {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();

// Every numeric key is read through one of these (or checked by libdgc's validate(), see
// validate_under), so that a value the program cannot use (a zero that is later a divisor or a
// modulus, a negative count, NaN or infinity) is one error naming the dotted key, the allowed
// range and the value, before any work starts: not a SIGFPE or a torch error deep in training.

std::int64_t integer(const Config& c, const std::string& key, std::int64_t min,
                     std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
  const auto v = c.get<std::int64_t>(key);
  if (max == std::numeric_limits<std::int64_t>::max()) {
    DGC_CHECK(v >= min, "config: ", key, " must be >= ", min, ", got ", v);
  } else {
    DGC_CHECK(v >= min && v <= max, "config: ", key, " must be in [", min, ", ", max, "], got ", v);
  }
  return v;
}

// A real number in an interval; `open_*` excludes that end. NaN and infinities are always
// rejected: no setting here has a meaning for them (an infinite clip is written as null).
struct Interval {
  double min;
  bool open_min;
  double max = kInf;
  bool open_max = true;
};

std::string describe(const Interval& r) {
  std::ostringstream out;
  if (r.min == -kInf && r.max == kInf) {
    out << "finite";
  } else if (r.max == kInf) {
    out << "finite and " << (r.open_min ? "> " : ">= ") << r.min;
  } else {
    out << "in " << (r.open_min ? "(" : "[") << r.min << ", " << r.max << (r.open_max ? ")" : "]");
  }
  return out.str();
}

bool contains(const Interval& r, double v) {
  return std::isfinite(v) && (r.open_min ? v > r.min : v >= r.min) &&
         (r.open_max ? v < r.max : v <= r.max);
}

double real(const Config& c, const std::string& key, const Interval& range) {
  const auto v = c.get<double>(key);
  DGC_CHECK(contains(range, v), "config: ", key, " must be ", describe(range), ", got ", v);
  return v;
}

const Interval kFinite{-kInf, true};
const Interval kPositive{0, true};
const Interval kNonNegative{0, false};

// libdgc's validate() starts its messages with the field of its options struct; under the config
// the same field is the key below `prefix`, so its message is repeated with the full key (rather
// than a second copy of its checks here). tests/train/config/test_settings.cpp holds it to that.
template <typename Options>
void validate_under(const Options& options, const std::string& prefix) {
  try {
    validate(options);
  } catch (const Error& e) {
    DGC_FAIL("config: ", prefix, e.message());
  }
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
  // The schema leaves this map unchecked (its default is null): a misspelt field would
  // otherwise be ignored silently.
  DGC_CHECK(c.is_map(key), "config: ", key, " must be null or a map with kind, max_norm, ",
            "norm_type or clip_value");
  for (const auto& field : c.root()["train"]["compression"]["memory"]["gradient_clipping"]) {
    const auto name = field.first.as<std::string>();
    DGC_CHECK(name == "kind" || name == "max_norm" || name == "norm_type" || name == "clip_value",
              "config: unknown key '", key, ".", name,
              "' (expected kind, max_norm, norm_type or clip_value)");
  }
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
  if (c.has(key + ".max_norm")) clip.max_norm = real(c, key + ".max_norm", kPositive);
  if (c.has(key + ".norm_type")) {
    clip.norm_type = c.get<double>(key + ".norm_type");
    DGC_CHECK(clip.norm_type == 2.0 || clip.norm_type == kInf, "config: ", key,
              ".norm_type must be 2 or .inf, got ", clip.norm_type);
  }
  if (c.has(key + ".clip_value")) clip.clip_value = real(c, key + ".clip_value", kPositive);
  return clip;
}

// Per-channel normalization divides by std: each value must be finite, and std's > 0.
std::vector<float> channel_values(const Config& c, const std::string& key, const Interval& range) {
  const auto values = c.get<std::vector<double>>(key);
  for (std::size_t i = 0; i < values.size(); ++i) {
    DGC_CHECK(contains(range, values[i]), "config: ", key, "[", i, "] must be ", describe(range),
              ", got ", values[i]);
  }
  return floats(c, key);
}

Augmentation augmentation(const RunSettings& s, const Config& c, bool train) {
  Augmentation a;
  const bool augment = train && c.get<bool>("dataset.augment");
  // The seed's CIFAR recipe: a random crop with 4 pixels of padding at 32x32, scaled down for
  // smaller images (2 at 28x28), and a horizontal flip.
  a.pad = augment ? (s.image_size >= 32 ? 4 : 2) : 0;
  a.flip = augment;
  a.mean = channel_values(c, "dataset.mean", kFinite);
  a.std = channel_values(c, "dataset.std", kPositive);
  DGC_CHECK(a.mean.size() == a.std.size() &&
                (a.mean.empty() || static_cast<std::int64_t>(a.mean.size()) == s.num_channels),
            "config: dataset.mean and dataset.std need one value per channel (", s.num_channels,
            ") or none, got ", a.mean.size(), " and ", a.std.size());
  return a;
}

// ImageNet's transforms (ALGORITHM.md section 9) at the configured crop size.
ImageTransform image_transform(const RunSettings& s, const Config& c, bool train) {
  ImageTransform t;
  t.train = train && c.get<bool>("dataset.augment");
  t.flip = t.train;
  t.output_size = s.image_size;
  // torchvision's Resize(256) before CenterCrop(224), at any crop size.
  t.resize_size = (s.image_size * 8 + 3) / 7;
  t.mean = channel_values(c, "dataset.mean", kFinite);
  t.std = channel_values(c, "dataset.std", kPositive);
  DGC_CHECK(t.mean.size() == 3 && t.std.size() == 3,
            "config: dataset.mean and dataset.std need three values (R, G, B) for imagenet, got ",
            t.mean.size(), " and ", t.std.size());
  return t;
}

// The file datasets have fixed shapes and classes. A class subset (data/select_classes.h) keeps
// every k-th class, so num_classes must divide the dataset's count; anything else would be a
// shape error in the model or "target out of bounds" in the loss, far from the cause.
void check_dataset_shape(const RunSettings& s) {
  if (s.dataset == "synthetic") return;
  if (s.dataset == "imagenet") {
    // The class count is checked against the folders when they are scanned.
    DGC_CHECK(s.num_channels == 3, "config: dataset.num_channels must be 3 for imagenet (every ",
              "image becomes RGB), got ", s.num_channels);
    DGC_CHECK(s.image_size >= 8 && s.image_size <= 1024,
              "config: dataset.image_size must be in [8, 1024] for imagenet, got ", s.image_size);
    return;
  }
  const bool fmnist = s.dataset == "fashion-mnist";
  const std::int64_t classes = 10, size = fmnist ? 28 : 32, channels = fmnist ? 1 : 3;
  DGC_CHECK(s.num_classes <= classes && classes % s.num_classes == 0,
            "config: dataset.num_classes must divide ", s.dataset, "'s ", classes,
            " classes (2, 5 or 10: every k-th class is kept), got ", s.num_classes);
  DGC_CHECK(s.image_size == size, "config: dataset.image_size must be ", size, " for ", s.dataset,
            ", got ", s.image_size);
  DGC_CHECK(s.num_channels == channels, "config: dataset.num_channels must be ", channels, " for ",
            s.dataset, ", got ", s.num_channels);
}

void read_schedule(RunSettings& s, const Config& c) {
  const std::string k = "train.schedule.";
  s.schedule.base_lr = s.lr;
  s.schedule.num_batches_per_step = static_cast<int>(s.num_batches_per_step);
  // An integer in the schema (the seed compares an integer epoch with it: lr_schedule.h).
  const std::int64_t warmup = integer(c, k + "warmup_lr_epochs", 0);
  s.schedule.warmup_lr_epochs = static_cast<double>(warmup);
  s.schedule.name = c.get<std::string>(k + "name");
  DGC_CHECK(s.schedule.name == "cosine" || s.schedule.name == "multistep" ||
                s.schedule.name == "constant",
            "config: ", k, "name must be cosine, multistep or constant, got '", s.schedule.name,
            "'");
  s.schedule.num_epochs = s.num_epochs;
  s.schedule.gamma = real(c, k + "gamma", kPositive);
  s.schedule.milestones = c.get<std::vector<std::int64_t>>(k + "milestones");
  const auto& milestones = s.schedule.milestones;
  for (std::size_t i = 0; i < milestones.size(); ++i) {
    DGC_CHECK(milestones[i] >= 0, "config: ", k, "milestones[", i, "] must be >= 0, got ",
              milestones[i]);
    DGC_CHECK(i == 0 || milestones[i] > milestones[i - 1], "config: ", k,
              "milestones must be strictly increasing, got ", milestones[i - 1], " then ",
              milestones[i]);
  }
  if (s.schedule.name == "cosine") {
    // T_max = num_epochs - warmup_lr_epochs is the cosine's period: it divides.
    DGC_CHECK(warmup < s.num_epochs, "config: ", k, "warmup_lr_epochs must be < train.num_epochs (",
              s.num_epochs, ") with the cosine schedule, got ", warmup);
  }
  if (s.schedule.name != "multistep") {
    s.schedule.milestones.clear();
  } else {
    // A milestone inside the ramp is never reached in the seed (lr_schedule.h).
    for (std::size_t i = 0; i < milestones.size(); ++i) {
      DGC_CHECK(milestones[i] > warmup, "config: ", k, "milestones[", i,
                "] must be > train.schedule.warmup_lr_epochs (", warmup, "), got ", milestones[i]);
    }
  }
  check_lr_schedule_options(s.schedule);  // a backstop: everything it checks is checked above
}

// train.exchange names the comm hook; train.dgc (the seed's switch) says whether DGC runs, and the
// two must agree.
void read_exchange(RunSettings& s, const Config& c) {
  const std::string exchange = c.get<std::string>("train.exchange");
  // The exchanges whose inner optimizer applies the momentum (plain momentum SGD).
  const std::vector<std::string> dense = {"allreduce", "fp16", "bf16", "powersgd"};
  const std::vector<std::string> sparse = {"dgc", "dgc_hierarchical", "dgc_reduce_scatter",
                                           "dgc_auto"};
  const auto among = [&](const std::vector<std::string>& names) {
    return std::find(names.begin(), names.end(), exchange) != names.end();
  };
  DGC_CHECK(exchange == "auto" || among(dense) || among(sparse), "config: train.exchange: '",
            exchange,
            "' is not an exchange (auto, allreduce, fp16, bf16, powersgd, dgc, dgc_hierarchical, "
            "dgc_reduce_scatter, dgc_auto)");
  DGC_CHECK(
      !(s.dgc && among(dense)), "config: train.exchange: ", exchange,
      " is not a DGC exchange, but train.dgc is true (use exchange auto, dgc, dgc_hierarchical, "
      "dgc_reduce_scatter or dgc_auto, or dgc: false)");
  DGC_CHECK(s.dgc || !among(sparse), "config: train.exchange: ", exchange,
            " is a DGC exchange: it needs train.dgc: true");
  s.exchange = exchange != "auto" ? exchange : s.dgc ? "dgc" : "allreduce";
}

void read_compression(RunSettings& s, const Config& c) {
  const std::string k = "train.compression.";
  auto& o = s.compressor;
  o.compress_ratio = c.get<double>(k + "compress_ratio");
  o.sample_ratio = c.get<double>(k + "sample_ratio");
  o.strided_sample = c.get<bool>(k + "strided_sample");
  o.compress_upper_bound = c.get<double>(k + "compress_upper_bound");
  o.compress_lower_bound = c.get<double>(k + "compress_lower_bound");
  o.max_adaptation_iters = static_cast<int>(integer(c, k + "max_adaptation_iters", 0, kIntMax));
  o.resample = c.get<bool>(k + "resample");
  o.fp16_values = c.get<bool>(k + "fp16_values");
  o.bf16_values = c.get<bool>(k + "bf16_values");
  o.int32_indices = c.get<bool>(k + "int32_indices");
  s.dgc_exchange.dense_fallback = c.get<bool>(k + "dense_fallback");
  s.dgc_exchange.hierarchical_allgather = c.get<bool>(k + "hierarchical_allgather");
  const std::string encoding = c.get<std::string>(k + "wire_encoding");
  DGC_CHECK(encoding == "encoded" || encoding == "raw", "config: ", k, "wire_encoding: '", encoding,
            "' is not a wire encoding (encoded, raw)");
  s.dgc_exchange.encoding = encoding == "raw" ? WireEncoding::kRaw : WireEncoding::kEncoded;
  DGC_CHECK(!(o.int32_indices && s.dgc_exchange.encoding == WireEncoding::kEncoded), "config: ", k,
            "int32_indices applies to the raw wire format only (", k,
            "wire_encoding: raw); encoded messages code their indices themselves");
  // <= 0 disables the warm-up; the bounds only keep the value an int.
  o.warmup_epochs = static_cast<int>(integer(c, k + "warmup_epochs", -kIntMax, kIntMax));
  o.warmup_coeff = warmup_coeff(c);
  o.seed = s.seed;
  validate_under(o, k);  // ratios, bounds and the warm-up coefficients
  // The memory's momentum is the optimizer's unless set (the seed copies it).
  const std::string m = k + "memory.";
  s.memory.momentum =
      c.is_null(m + "momentum") ? s.momentum : real(c, m + "momentum", {0, false, 1, true});
  s.memory.nesterov = c.is_null(m + "nesterov") ? s.nesterov : c.get<bool>(m + "nesterov");
  s.memory.momentum_masking = c.get<bool>(m + "momentum_masking");
  s.memory.gradient_clipping = clipping(c);
  validate_under(s.memory, m);
}

// train.exchange_cost (dgc_auto): read whatever the exchange, like train.powersgd.
void read_exchange_cost(RunSettings& s, const Config& c) {
  const std::string k = "train.exchange_cost.";
  const std::string scheme = c.get<std::string>(k + "scheme");
  const std::vector<std::pair<std::string, DgcScheme>> schemes = {
      {"dense", DgcScheme::kDense},
      {"allgather", DgcScheme::kAllgather},
      {"hierarchical", DgcScheme::kHierarchical},
      {"reduce_scatter", DgcScheme::kReduceScatter}};
  s.dgc_auto.force.reset();
  for (const auto& [name, value] : schemes) {
    if (scheme == name) s.dgc_auto.force = value;
  }
  DGC_CHECK(scheme == "auto" || s.dgc_auto.force, "config: ", k, "scheme: '", scheme,
            "' is not a scheme (auto, dense, allgather, hierarchical, reduce_scatter)");
  const std::vector<std::string> links = {"network_latency_us", "network_gbit_s", "node_latency_us",
                                          "node_gbit_s"};
  int given = 0;
  for (const auto& key : links) given += c.is_null(k + key) ? 0 : 1;
  DGC_CHECK(given == 0 || given == 4, "config: ", k,
            "{network_latency_us, network_gbit_s, node_latency_us, node_gbit_s}: set all four, or "
            "none (measured), got ",
            given);
  s.dgc_auto.costs.reset();
  if (given == 4) {
    const auto link = [&](const std::string& prefix) {
      return LinkCost{real(c, k + prefix + "_latency_us", kNonNegative) * 1e-6,
                      real(c, k + prefix + "_gbit_s", kPositive) * 1e9 / 8};
    };
    s.dgc_auto.costs = ExchangeCosts{link("network"), link("node")};
  }
}

// train.powersgd: read whatever the exchange, so that a bad value is caught before it is used.
void read_powersgd(RunSettings& s, const Config& c) {
  const std::string k = "train.powersgd.";
  auto& o = s.powersgd;
  o.matrix_approximation_rank = integer(c, k + "rank", 1);
  o.start_powerSGD_iter = integer(c, k + "start_iter", 0);
  o.min_compression_rate = real(c, k + "min_compression_rate", kNonNegative);
  o.use_error_feedback = c.get<bool>(k + "error_feedback");
  o.warm_start = c.get<bool>(k + "warm_start");
  o.orthogonalization_epsilon = real(c, k + "orthogonalization_epsilon", kNonNegative);
  o.seed = s.seed;
  // A backstop (everything it checks is checked above): the keys are not the fields' names, so
  // validate_under's prefixing would name no key.
  try {
    validate(o);
  } catch (const Error& e) {
    DGC_FAIL("config: train.powersgd: ", e.message());
  }
}

}  // namespace

RunSettings read_settings(const Config& c) {
  RunSettings s;
  s.seed = static_cast<std::uint64_t>(integer(c, "seed", 0));
  s.dataset = c.get<std::string>("dataset.name");
  DGC_CHECK(s.dataset == "fashion-mnist" || s.dataset == "cifar10" || s.dataset == "imagenet" ||
                s.dataset == "synthetic",
            "config: dataset.name must be fashion-mnist, cifar10, imagenet or synthetic, got '",
            s.dataset, "'");
  s.dataset_root = c.get<std::string>("dataset.root");
  // One class would make a classifier with nothing to learn.
  s.num_classes = integer(c, "dataset.num_classes", 2);
  s.image_size = integer(c, "dataset.image_size", 1);
  s.num_channels = integer(c, "dataset.num_channels", 1);
  s.synthetic_train_size = integer(c, "dataset.synthetic_train_size", 1);
  s.synthetic_test_size = integer(c, "dataset.synthetic_test_size", 1);
  check_dataset_shape(s);
  if (s.dataset == "imagenet") {
    s.train_transform = image_transform(s, c, true);
    s.test_transform = image_transform(s, c, false);
  } else {
    s.train_augmentation = augmentation(s, c, true);
    s.test_augmentation = augmentation(s, c, false);
  }
  s.prefetch_batches = integer(c, "data.prefetch_batches", 1);
  // A thread each; more than a few dozen per rank is a typo.
  s.loader_workers = integer(c, "data.num_workers", 1, 64);

  s.model = c.get<std::string>("model.name");
  s.zero_init_residual = c.get<bool>("model.zero_init_residual");
  s.num_epochs = integer(c, "train.num_epochs", 1);
  // 0 runs to num_epochs; the upper bound keeps `next epoch + stop_after_epochs` from overflowing.
  s.stop_after_epochs = integer(c, "train.stop_after_epochs", 0, s.num_epochs);
  s.batch_size = integer(c, "train.batch_size", 1);
  // It divides the epoch's batches into steps, and DistributedOptions takes it as an int.
  s.num_batches_per_step = integer(c, "train.num_batches_per_step", 1, kIntMax);
  s.eval_batch_size = integer(c, "evaluate.batch_size", 1);
  DGC_CHECK(c.get<std::string>("train.optimizer.name") == "sgd",
            "config: train.optimizer.name: only sgd is supported");
  s.lr = real(c, "train.optimizer.lr", kPositive);
  s.momentum = real(c, "train.optimizer.momentum", {0, false, 1, true});
  s.weight_decay = real(c, "train.optimizer.weight_decay", kNonNegative);
  s.nesterov = c.get<bool>("train.optimizer.nesterov");
  s.dampening = real(c, "train.optimizer.dampening", {0, false, 1, false});
  s.optimize_bn_separately = c.get<bool>("train.optimize_bn_separately");
  s.dgc = c.get<bool>("train.dgc");
  read_exchange(s, c);
  // torch's SGD refuses this combination with a message that names no key; DGC's SGD applies no
  // momentum (the memory does), so the rule is only the dense baseline's.
  DGC_CHECK(s.dgc || !s.nesterov || (s.momentum > 0 && s.dampening == 0),
            "config: train.optimizer.nesterov needs train.optimizer.momentum > 0 and "
            "train.optimizer.dampening 0, got momentum ",
            s.momentum, " and dampening ", s.dampening);
  read_schedule(s, c);
  read_compression(s, c);
  read_powersgd(s, c);
  read_exchange_cost(s, c);

  const std::string d = "distributed.";
  // Up to 1e6 MiB, far beyond any model, so that the bytes fit; at least one float32.
  s.bucket_bytes = std::max<std::int64_t>(
      4, static_cast<std::int64_t>(real(c, d + "bucket_mb", {0, true, 1e6, false}) * (1 << 20)));
  s.overlap = c.get<bool>(d + "overlap");
  const auto wait = c.get<std::string>(d + "wait");
  DGC_CHECK(wait == "block" || wait == "sleep", "config: ", d, "wait must be block or sleep, got '",
            wait, "'");
  s.wait = wait == "sleep" ? WaitPolicy::kSleep : WaitPolicy::kBlock;
  const auto cpus = c.get<std::vector<std::int64_t>>(d + "comm_thread_cpus");
  for (std::size_t i = 0; i < cpus.size(); ++i) {
    // The library checks that the core exists and may be used, once it knows the machine.
    DGC_CHECK(cpus[i] >= 0 && cpus[i] <= std::numeric_limits<int>::max(), "config: ", d,
              "comm_thread_cpus[", i, "] must be a core number >= 0, got ", cpus[i]);
    s.comm_thread_cpus.push_back(static_cast<int>(cpus[i]));
  }
  s.stall_check.warning_seconds = c.get<double>(d + "stall_warning_seconds");
  s.stall_check.timeout_seconds = c.get<double>(d + "stall_timeout_seconds");
  for (const auto& [key, value] :
       {std::pair{"stall_warning_seconds", s.stall_check.warning_seconds},
        std::pair{"stall_timeout_seconds", s.stall_check.timeout_seconds}}) {
    DGC_CHECK(std::isfinite(value) && value >= 0, "config: ", d, key,
              " must be a number of seconds >= 0, got ", value);
  }
  DGC_CHECK(s.stall_check.timeout_seconds == 0 ||
                (s.stall_check.warning_seconds > 0 &&
                 s.stall_check.timeout_seconds >= s.stall_check.warning_seconds),
            "config: ", d, "stall_timeout_seconds (", s.stall_check.timeout_seconds,
            ") must be 0 or >= ", d, "stall_warning_seconds (", s.stall_check.warning_seconds,
            "), which must then be > 0");

  s.runs_dir = c.get<std::string>("logging.runs_dir");
  s.metric = c.get<std::string>("train.metric");
  DGC_CHECK(s.metric == "acc/test_top1" || s.metric == "acc/test_top5",
            "config: train.metric must be acc/test_top1 or acc/test_top5, got '", s.metric, "'");
  // The trainer logs every step % log_every_steps == 0.
  s.log_every_steps = integer(c, "logging.log_every_steps", 1);
  s.progress_bar = c.get<bool>("logging.progress_bar");
  s.tensorboard = c.get<bool>("logging.tensorboard");
  s.timeline = c.get<bool>("logging.timeline");
  s.timeline_steps = integer(c, "logging.timeline_steps", 1);
  return s;
}

}  // namespace dgc::train
