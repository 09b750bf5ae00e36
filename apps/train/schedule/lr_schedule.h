// The learning-rate schedule of the seed's train.py (ALGORITHM.md section 9).
//
// The rate is a pure function of the training position (epoch, step in the epoch), not a
// stateful scheduler stepped along with training: a resumed run computes exactly the rate the
// uninterrupted run had at the same position, with no scheduler state in the checkpoint. (libtorch
// 1.13 has no cosine or multistep scheduler anyway, and its StepLR decays one step later than
// Python's.)
//
// Shape of the schedule, with size = world_size * num_batches_per_step and
// scaled = base_lr * size:
//  - warm-up, epochs [0, warmup_lr_epochs), per step: a linear ramp from base_lr towards scaled;
//  - then per epoch, with t = epoch - warmup_lr_epochs: "cosine", "multistep" or "constant",
//    all starting at exactly `scaled` at t = 0.
//
// Pure functions, thread-safe. Bad options are dgc::Errors naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dgc::train {

struct LrScheduleOptions {
  // The per-worker, per-micro-batch rate of the config (the seed's optimizer.lr before scaling).
  // Must be > 0. Default: the seed's CIFAR value.
  double base_lr = 0.1;
  // Number of ranks. Must be >= 1.
  int world_size = 1;
  // Micro-batches accumulated into one optimizer step. Must be >= 1.
  int num_batches_per_step = 1;
  // Length of the linear ramp in epochs; 0 disables it. Must be a whole number >= 0: the seed
  // tests `epoch < warmup_lr_epochs` with an integer epoch, so a fractional value would ramp
  // past the scaled rate and start the main schedule mid-way.
  double warmup_lr_epochs = 5;
  // "cosine" (CIFAR), "multistep" (ImageNet) or "constant".
  std::string name = "cosine";
  // Total epochs of the run, ramp included. For "cosine", T_max = num_epochs -
  // warmup_lr_epochs must be > 0. Default: the seed's CIFAR value.
  std::int64_t num_epochs = 200;
  // For "multistep": the epochs at which the rate is multiplied by gamma, counted from the start
  // of training like the seed's config writes them (30, 60, 80 for ImageNet), strictly
  // increasing and each > warmup_lr_epochs. Default: none.
  std::vector<std::int64_t> milestones;
  // For "multistep": the decay factor, > 0.
  double gamma = 0.1;
};

// Throws dgc::Error naming the first bad field. learning_rate() checks too; calling this once
// at start-up reports a bad config before any work starts.
void check_lr_schedule_options(const LrScheduleOptions& options);

// The rate for the optimizer step `step_in_epoch` (0-based) of epoch `epoch` (0-based), in an
// epoch of `steps_per_epoch` optimizer steps. Requires epoch >= 0, steps_per_epoch >= 1 and
// 0 <= step_in_epoch < steps_per_epoch.
double learning_rate(const LrScheduleOptions& options, std::int64_t epoch,
                     std::int64_t step_in_epoch, std::int64_t steps_per_epoch);

}  // namespace dgc::train
