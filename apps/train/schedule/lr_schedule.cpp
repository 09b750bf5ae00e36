#include "schedule/lr_schedule.h"

#include <cmath>

#include "dgc/error.h"

namespace dgc::train {
namespace {

constexpr double kPi = 3.14159265358979323846;

}  // namespace

void check_lr_schedule_options(const LrScheduleOptions& options) {
  DGC_CHECK(options.base_lr > 0, "lr schedule: base_lr must be > 0, got ", options.base_lr);
  DGC_CHECK(options.world_size >= 1, "lr schedule: world_size must be >= 1, got ",
            options.world_size);
  DGC_CHECK(options.num_batches_per_step >= 1,
            "lr schedule: num_batches_per_step must be >= 1, got ", options.num_batches_per_step);
  DGC_CHECK(options.warmup_lr_epochs >= 0 &&
                options.warmup_lr_epochs == std::floor(options.warmup_lr_epochs),
            "lr schedule: warmup_lr_epochs must be a whole number >= 0, got ",
            options.warmup_lr_epochs);
  DGC_CHECK(options.num_epochs >= 0, "lr schedule: num_epochs must be >= 0, got ",
            options.num_epochs);
  if (options.name == "cosine") {
    DGC_CHECK(options.num_epochs - options.warmup_lr_epochs > 0,
              "lr schedule: cosine needs T_max = num_epochs - warmup_lr_epochs > 0, got "
              "num_epochs ",
              options.num_epochs, " and warmup_lr_epochs ", options.warmup_lr_epochs);
  } else if (options.name == "multistep") {
    DGC_CHECK(options.gamma > 0, "lr schedule: gamma must be > 0, got ", options.gamma);
    for (std::size_t i = 0; i < options.milestones.size(); ++i) {
      const std::int64_t milestone = options.milestones[i];
      // A milestone inside the ramp would be a negative scheduler epoch in the seed, where
      // MultiStepLR never reaches it: reject rather than guess.
      DGC_CHECK(milestone > options.warmup_lr_epochs, "lr schedule: milestones[", i,
                "] = ", milestone, " must be > warmup_lr_epochs = ", options.warmup_lr_epochs);
      DGC_CHECK(i == 0 || milestone > options.milestones[i - 1],
                "lr schedule: milestones must be strictly increasing, got milestones[", i - 1,
                "] = ", options.milestones[i - 1], " then milestones[", i, "] = ", milestone);
    }
  } else {
    DGC_CHECK(options.name == "constant", "lr schedule: unknown name '", options.name,
              "' (expected cosine, multistep or constant)");
  }
}

double learning_rate(const LrScheduleOptions& options, std::int64_t epoch,
                     std::int64_t step_in_epoch, std::int64_t steps_per_epoch) {
  check_lr_schedule_options(options);
  DGC_CHECK(epoch >= 0, "lr schedule: epoch must be >= 0, got ", epoch);
  DGC_CHECK(steps_per_epoch >= 1, "lr schedule: steps_per_epoch must be >= 1, got ",
            steps_per_epoch);
  DGC_CHECK(step_in_epoch >= 0 && step_in_epoch < steps_per_epoch,
            "lr schedule: step_in_epoch must be in [0, ", steps_per_epoch, "), got ",
            step_in_epoch);

  // Goyal et al.'s linear scaling rule: every optimizer step averages the gradients of `size`
  // micro-batches, so it may take a `size` times larger step.
  const double size = static_cast<double>(options.world_size) * options.num_batches_per_step;
  const double scaled_lr = options.base_lr * size;
  const double warmup = options.warmup_lr_epochs;

  if (static_cast<double>(epoch) < warmup) {
    // The seed's ramp, per step, as written there: factor goes from 1/size at the first step
    // (the rate is base_lr) linearly towards 1 at epoch_fraction == warmup_lr_epochs, which is
    // the first step after the ramp, where the main schedule starts at exactly scaled_lr.
    const double epoch_fraction =
        static_cast<double>(epoch) +
        static_cast<double>(step_in_epoch) / static_cast<double>(steps_per_epoch);
    const double factor = (epoch_fraction * (size - 1) / warmup + 1) / size;
    return factor * scaled_lr;
  }

  // The seed steps its torch scheduler once per epoch after the ramp, at step 0, starting from
  // scheduler epoch 0 at epoch == warmup_lr_epochs; so the scheduler's epoch is t below and the
  // rate is constant within an epoch.
  const double t = static_cast<double>(epoch) - warmup;
  if (options.name == "cosine") {
    // PyTorch's CosineAnnealingLR in its closed form with eta_min = 0 (the chained form the seed
    // steps equals it up to rounding). t = T_max gives 0; past it the cosine rises again, like
    // PyTorch's.
    const double t_max = static_cast<double>(options.num_epochs) - warmup;
    return scaled_lr * (1 + std::cos(kPi * t / t_max)) / 2;
  }
  if (options.name == "multistep") {
    // The seed's ImageNet config writes `milestones = [e - warmup_lr_epochs for e in [30, 60,
    // 80]]` because its MultiStepLR counts epochs from the end of the ramp. Here the milestones
    // are the absolute epochs (30, 60, 80) and are shifted the same way: milestone m becomes
    // scheduler epoch m - warmup_lr_epochs, reached when t >= m - warmup_lr_epochs, i.e. when
    // epoch >= m. So the rate is multiplied by gamma from the first step of (0-based) epoch m.
    double lr = scaled_lr;
    for (const std::int64_t milestone : options.milestones) {
      if (static_cast<double>(milestone) - warmup <= t) lr *= options.gamma;
    }
    return lr;
  }
  return scaled_lr;  // "constant"
}

}  // namespace dgc::train
