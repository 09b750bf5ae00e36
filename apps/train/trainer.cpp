#include "trainer.h"

#include <ATen/Parallel.h>
#include <sched.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <thread>

#include "atomic_file.h"
#include "checkpoint/checkpoint_store.h"
#include "config/config.h"
#include "data/cifar10.h"
#include "data/idx.h"
#include "data/synthetic.h"
#include "dgc/distributed_optimizer.h"
#include "dgc/error.h"
#include "dgc/sgd.h"
#include "input/distributed_sampler.h"
#include "input/loader.h"
#include "log/crc32c.h"
#include "models/registry.h"
#include "run_log.h"
#include "run_settings.h"

namespace dgc::train {

namespace {

// The synthetic dataset's sizes: enough for a quick run to show learning.
constexpr std::int64_t kSyntheticTrain = 4096, kSyntheticTest = 1024;

Dataset load_dataset(const RunSettings& s, bool train) {
  if (s.dataset == "fashion-mnist") return load_fashion_mnist(s.dataset_root, train);
  if (s.dataset == "cifar10") return load_cifar10(s.dataset_root, train);
  return make_synthetic(train ? kSyntheticTrain : kSyntheticTest, s.num_channels, s.image_size,
                        s.image_size, s.num_classes, s.seed + (train ? 0 : 1));
}

// ALGORITHM.md section 9: with optimize_bn_separately, batch-norm parameters get no weight
// decay. Both groups use SGDOptions, which DGC-SGD shares with torch::optim::SGD.
std::vector<torch::optim::OptimizerParamGroup> parameter_groups(torch::nn::Module& model,
                                                                const RunSettings& s) {
  const auto options = torch::optim::SGDOptions(s.lr)
                           .momentum(s.momentum)
                           .weight_decay(s.weight_decay)
                           .nesterov(s.nesterov)
                           .dampening(s.dampening);
  std::vector<torch::Tensor> bn, other;
  for (const auto& module : model.modules()) {
    const bool is_bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(module.get()) != nullptr;
    for (const auto& p : module->parameters(/*recurse=*/false)) {
      (is_bn && s.optimize_bn_separately ? bn : other).push_back(p);
    }
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(other, std::make_unique<torch::optim::SGDOptions>(options));
  if (!bn.empty()) {
    auto no_decay = options;
    no_decay.weight_decay(0);
    groups.emplace_back(bn, std::make_unique<torch::optim::SGDOptions>(no_decay));
  }
  return groups;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model,
                                                        const RunSettings& s) {
  const auto defaults = torch::optim::SGDOptions(s.lr);
  // Under DGC the momentum is applied in the compressor's memory; DGC-SGD only adds weight decay.
  if (s.dgc) return std::make_unique<DGCSGD>(parameter_groups(model, s), defaults);
  return std::make_unique<torch::optim::SGD>(parameter_groups(model, s), defaults);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) {
    static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
  }
}

struct Accuracy {
  double top1 = 0, top5 = 0;
};

// Top-1 and top-5 over the whole test set: each rank takes every world_size-th image (no
// padding, so nothing counts twice) and the counts are summed over ranks.
Accuracy evaluate(const Model& model, const Dataset& test, const RunSettings& s,
                  Communicator& comm) {
  torch::NoGradGuard no_grad;
  model.module->eval();
  std::vector<std::int64_t> indices;
  for (std::int64_t i = comm.rank(); i < test.size(); i += comm.size()) indices.push_back(i);
  LoaderOptions options;
  options.batch_size = s.eval_batch_size;
  options.augmentation = s.test_augmentation;
  options.train = false;
  BatchLoader loader(test.images, test.labels, indices, options);
  std::int64_t counts[3] = {0, 0, 0};  // top-1, top-5, images
  Batch batch;
  while (loader.next(batch)) {
    const auto output = model.forward(batch.data);
    const auto top = std::get<1>(output.topk(std::min<std::int64_t>(5, output.size(1)), 1));
    const auto hits = top.eq(batch.target.unsqueeze(1));
    counts[0] += hits.narrow(1, 0, 1).sum().item<std::int64_t>();
    counts[1] += hits.sum().item<std::int64_t>();
    counts[2] += batch.target.size(0);
  }
  model.module->train();
  comm.allreduce(counts, 3, torch::kLong, ReduceOp::kSum);
  return {100.0 * static_cast<double>(counts[0]) / static_cast<double>(counts[2]),
          100.0 * static_cast<double>(counts[1]) / static_cast<double>(counts[2])};
}

// Everything a resumed run needs to continue exactly as if it had not stopped. The sampler and
// the augmentation are functions of (seed, epoch), so the epoch stands for them.
struct Progress {
  std::int64_t next_epoch = 0;
  double best = 0;
  std::int64_t inputs_seen = 0;
};

void save_state(torch::serialize::OutputArchive& archive, const Model& model,
                torch::optim::Optimizer& optimizer, Compressor* compressor,
                const Progress& progress) {
  torch::serialize::OutputArchive model_archive, optimizer_archive, memory_archive;
  model.module->save(model_archive);
  archive.write("model", model_archive);
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  if (compressor != nullptr) {
    compressor->save(memory_archive);
    archive.write("dgc", memory_archive);
  }
  archive.write("progress.next_epoch", torch::tensor(progress.next_epoch));
  archive.write("progress.best", torch::tensor(progress.best, torch::kDouble));
  archive.write("progress.inputs_seen", torch::tensor(progress.inputs_seen));
  archive.write("rng", at::detail::getDefaultCPUGenerator().get_state());
}

void load_state(torch::serialize::InputArchive& archive, const Model& model,
                torch::optim::Optimizer& optimizer, Compressor* compressor, Progress& progress) {
  torch::serialize::InputArchive model_archive, optimizer_archive, memory_archive;
  archive.read("model", model_archive);
  model.module->load(model_archive);
  archive.read("optimizer", optimizer_archive);
  optimizer.load(optimizer_archive);
  if (compressor != nullptr) {
    archive.read("dgc", memory_archive);
    compressor->load(memory_archive);
  }
  // A fresh tensor per key: reading into a tensor that already holds an archive's storage tries
  // to resize that storage.
  const auto read = [&](const char* key) {
    torch::Tensor t;
    archive.read(key, t);
    return t;
  };
  progress.next_epoch = read("progress.next_epoch").item<std::int64_t>();
  progress.best = read("progress.best").item<double>();
  progress.inputs_seen = read("progress.inputs_seen").item<std::int64_t>();
  const torch::Tensor t = read("rng");
  auto generator = at::detail::getDefaultCPUGenerator();
  generator.set_state(t);
}

// CRC-32C of every parameter and buffer, in registration order: two runs end with bitwise the
// same model exactly when these agree (checkpoint files cannot show it: the optimizer's state is
// keyed by tensor addresses, which differ from run to run).
std::uint32_t model_digest(torch::nn::Module& model) {
  std::uint32_t crc = 0;
  for (const auto& t : model.parameters()) crc = crc32c(t.contiguous().data_ptr(), t.nbytes(), crc);
  for (const auto& t : model.buffers()) crc = crc32c(t.contiguous().data_ptr(), t.nbytes(), crc);
  return crc;
}

// Intra-op threads for one rank. A rank the launcher bound to some cores (mpirun binds each rank to
// one core when np <= 2) gets one thread per core it may run on: more threads than that would
// share a core, and OpenMP's spinning threads then slow each other down (2.2x per step measured
// at np 1). An unbound rank gets its share of the machine's cores.
int threads_per_rank(int local_size) {
  const int machine = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) < machine) {
    return std::max(1, CPU_COUNT(&allowed));
  }
  return std::max(1, machine / local_size);
}

std::string describe_traffic(const TrafficStats& t) {
  std::ostringstream out;
  out << "sent " << t.bytes_sent << " bytes per step, "
      << static_cast<double>(t.dense_bytes) /
             static_cast<double>(std::max<std::int64_t>(1, t.bytes_sent))
      << "x less than dense float32";
  return out.str();
}

}  // namespace

int run_training(const CommandLine& command_line, Communicator& comm) {
  const Config config = load_config(command_line.configs, command_line.overrides);
  RunSettings s = read_settings(config);
  comm.set_stall_check(s.stall_check);  // the config's, in place of the environment's
  s.schedule.world_size = comm.size();
  check_lr_schedule_options(s.schedule);
  const bool leader = comm.rank() == 0;
  at::set_num_threads(threads_per_rank(comm.local_size()));  // libtorch starts with one

  const std::string run_dir =
      s.runs_dir + "/" + run_name(command_line.configs, command_line.suffix, comm.size());
  std::filesystem::create_directories(run_dir);
  RunLog log(run_dir, leader, s.tensorboard, s.progress_bar);
  if (leader) {
    apps::write_file_atomically(run_dir + "/config.yaml", config.to_yaml());
    log.print(config.to_yaml());
    log.print("=> run directory " + run_dir + ", " + std::to_string(comm.size()) + " rank(s), " +
              std::to_string(at::get_num_threads()) + " thread(s) each");
  }

  const Dataset train = load_dataset(s, true);
  const Dataset test = load_dataset(s, false);
  torch::manual_seed(s.seed);  // the same initial model on every rank, before the broadcast too
  const Model model = make_model(s.model, s.num_channels, s.num_classes, s.image_size);
  auto optimizer = make_optimizer(*model.module, s);
  DistributedOptions options;
  options.backward_passes_per_step = static_cast<int>(s.num_batches_per_step);
  const auto named = model.module->named_parameters().pairs();
  std::unique_ptr<DistributedOptimizer> distributed;
  if (s.dgc) {
    Compressor compressor(s.compressor, s.memory);
    if (leader) compressor.set_logger([&log](const std::string& line) { log.print(line); });
    distributed = std::make_unique<DistributedOptimizer>(comm, *optimizer, named,
                                                         std::move(compressor), options);
  } else {
    distributed = std::make_unique<DistributedOptimizer>(comm, *optimizer, named, options);
  }

  CheckpointStore store(run_dir, comm.rank());
  Progress progress;
  const bool resumed = store.load_latest([&](torch::serialize::InputArchive& archive) {
    load_state(archive, model, *optimizer, distributed->compressor(), progress);
  });
  if (resumed) {
    log.print("=> resumed from " + *store.latest() + " at epoch " +
              std::to_string(progress.next_epoch));
  } else {
    distributed->broadcast_parameters(0);
    distributed->broadcast_tensors(model.module->buffers(), 0);
    distributed->broadcast_optimizer_state(0);
  }
  // Dropout and anything else random differ per rank, reproducibly.
  if (!resumed) torch::manual_seed(s.seed + 1 + static_cast<std::uint64_t>(comm.rank()));

  DistributedSampler sampler(train.size(), comm.rank(), comm.size(), /*shuffle=*/true, s.seed);
  const std::int64_t step_inputs = s.batch_size * s.num_batches_per_step * comm.size();
  const std::int64_t end_epoch =
      s.stop_after_epochs > 0 ? std::min(s.num_epochs, progress.next_epoch + s.stop_after_epochs)
                              : s.num_epochs;
  for (std::int64_t epoch = progress.next_epoch; epoch < end_epoch; ++epoch) {
    distributed->set_epoch(epoch);
    sampler.set_epoch(epoch);
    LoaderOptions loader_options;
    loader_options.batch_size = s.batch_size;
    loader_options.augmentation = s.train_augmentation;
    loader_options.seed = s.seed;
    loader_options.epoch = epoch;
    loader_options.prefetch = s.prefetch_batches;
    BatchLoader loader(train.images, train.labels, sampler.indices(), loader_options);
    const std::int64_t steps =
        (loader.num_batches() + s.num_batches_per_step - 1) / s.num_batches_per_step;
    log.start_epoch(epoch, s.num_epochs, steps);
    Batch batch;
    for (std::int64_t step = 0; step < steps; ++step) {
      const double lr = learning_rate(s.schedule, epoch, step, steps);
      set_learning_rate(*optimizer, lr);
      distributed->zero_grad();
      double loss_sum = 0;
      std::int64_t inputs = 0;
      for (std::int64_t micro = 0; micro < s.num_batches_per_step && loader.next(batch); ++micro) {
        // The micro-batches' mean (section 9): each loss divided by their count.
        const auto loss =
            torch::nn::functional::cross_entropy(model.forward(batch.data), batch.target) /
            static_cast<double>(s.num_batches_per_step);
        loss.backward();
        loss_sum += loss.item<double>();
        inputs += batch.target.size(0);
      }
      distributed->step();
      progress.inputs_seen += step_inputs;
      log.step_done(step, loss_sum, inputs);
      if (step % s.log_every_steps == 0 || step + 1 == steps) {
        log.scalar("loss/train", loss_sum, progress.inputs_seen);
        log.scalar("lr", lr, progress.inputs_seen);
        log.scalar("traffic/bytes_sent",
                   static_cast<double>(distributed->last_step_traffic().bytes_sent),
                   progress.inputs_seen);
        if (s.dgc) {
          log.scalar("dgc/compress_ratio", distributed->compressor()->compress_ratio(),
                     progress.inputs_seen);
        }
      }
    }
    log.end_epoch(progress.inputs_seen);

    const Accuracy accuracy = evaluate(model, test, s, comm);
    progress.next_epoch = epoch + 1;
    const double value = s.metric == "acc/test_top5" ? accuracy.top5 : accuracy.top1;
    const bool best = value > progress.best;
    progress.best = std::max(progress.best, value);
    log.meter("acc/test_top1", accuracy.top1, progress.inputs_seen);
    log.meter("acc/test_top5", accuracy.top5, progress.inputs_seen);
    log.meter(s.metric + "_best", progress.best, progress.inputs_seen);
    log.print("=> " + describe_traffic(distributed->last_step_traffic()));
    store.save(
        epoch,
        [&](torch::serialize::OutputArchive& archive) {
          save_state(archive, model, *optimizer, distributed->compressor(), progress);
        },
        best);
  }
  char digest[16];
  std::snprintf(digest, sizeof digest, "%08x", model_digest(*model.module));
  log.print("=> done: best " + s.metric + " " + std::to_string(progress.best) + ", model digest " +
            digest);
  return 0;
}

}  // namespace dgc::train
