// Everything dgc-train reads from its config, typed and checked before any work starts: a bad
// value is one dgc::Error naming its key, on every rank alike (they all read the same files).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "dgc/communicator.h"
#include "dgc/hooks/dgc_auto_hook.h"
#include "dgc/hooks/dgc_hook.h"
#include "dgc/hooks/powersgd_hook.h"
#include "dgc/options.h"
#include "dgc/stall_check.h"
#include "input/augment.h"
#include "input/image_transform.h"
#include "schedule/lr_schedule.h"

namespace dgc::train {

struct RunSettings {
  std::uint64_t seed = 42;
  // Data
  std::string dataset;  // fashion-mnist | cifar10 | imagenet | synthetic
  std::string dataset_root;
  std::int64_t num_classes = 10, image_size = 28, num_channels = 1;
  std::int64_t synthetic_train_size = 4096, synthetic_test_size = 1024;  // synthetic only
  Augmentation train_augmentation, test_augmentation;                    // the in-memory datasets
  ImageTransform train_transform, test_transform;                        // imagenet
  std::int64_t prefetch_batches = 2, loader_workers = 1;
  // Model and optimizer
  std::string model;
  bool zero_init_residual = false;     // the ResNets only (make_model checks)
  std::int64_t stop_after_epochs = 0;  // > 0: end this invocation early (tests of resume)
  std::int64_t num_epochs = 0, batch_size = 0, num_batches_per_step = 1, eval_batch_size = 0;
  double lr = 0, momentum = 0, weight_decay = 0, dampening = 0;
  bool nesterov = false, optimize_bn_separately = false;
  LrScheduleOptions schedule;  // world_size filled in by the caller
  // The exchange: a comm hook's name (auto resolved); dgc is true for the DGC exchanges.
  std::string exchange = "allreduce";
  bool dgc = false;
  // DGC
  CompressorOptions compressor;
  DgcHookOptions dgc_exchange;  // the fallback and the wire encoding
  DgcAutoOptions dgc_auto;      // dgc_auto: the links' costs, a forced scheme
  MemoryOptions memory;
  // PowerSGD (train.exchange powersgd); its seed is the run's.
  PowerSgdOptions powersgd;
  // Distributed
  std::int64_t bucket_bytes = 25 << 20;  // DistributedOptions::bucket_bytes
  bool overlap = true;                   // DistributedOptions::overlap
  WaitPolicy wait = WaitPolicy::kBlock;  // Communicator::set_wait_policy
  std::vector<int> comm_thread_cpus;     // DistributedOptions::comm_thread_cpus
  StallCheckOptions stall_check;
  // Logging
  std::string runs_dir, metric;
  std::int64_t log_every_steps = 10;
  bool progress_bar = true, tensorboard = true;
  // Rank 0's Chrome trace of the first timeline_steps steps (apps/train/step_timeline.h).
  bool timeline = false;
  std::int64_t timeline_steps = 20;
};

RunSettings read_settings(const Config& config);

}  // namespace dgc::train
