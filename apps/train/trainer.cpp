#include "trainer.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>

#include "atomic_file.h"
#include "checkpoint/checkpoint_store.h"
#include "collective.h"
#include "config/config.h"
#include "datasets.h"
#include "dgc/distributed_optimizer.h"
#include "dgc/error.h"
#include "dgc/hooks/allreduce_hook.h"
#include "dgc/hooks/dgc_hook.h"
#include "dgc/hooks/make_dgc_hook.h"
#include "dgc/hooks/powersgd_hook.h"
#include "dgc/sgd.h"
#include "dgc/timeline.h"
#include "evaluation.h"
#include "input/distributed_sampler.h"
#include "input/loader.h"
#include "log/crc32c.h"
#include "models/registry.h"
#include "resume.h"
#include "run_directory.h"
#include "run_log.h"
#include "run_settings.h"
#include "run_setup.h"
#include "setting_changes.h"
#include "step_timeline.h"
#include "stop_signal.h"
#include "train_state.h"

namespace dgc::train {

namespace {

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

std::string describe_traffic(const TrafficStats& t, bool compressed) {
  std::ostringstream out;
  out << "sent " << t.bytes_sent << " bytes per step";
  if (t.dense_fallback_buckets > 0) {
    out << " (" << t.dense_fallback_buckets << " bucket(s) sent dense: smaller than sparse)";
  }
  if (compressed) {
    out << ", "
        << static_cast<double>(t.dense_bytes) /
               static_cast<double>(std::max<std::int64_t>(1, t.bytes_sent))
        << "x less than dense float32";
  }
  if (t.intra_node_bytes > 0) {
    out << "; " << t.intra_node_bytes << " bytes of what it sent and received stayed in the node";
  }
  return out.str();
}

// A checkpoint file's size, over-estimated from the model: its parameters and buffers, the
// optimizer's momentum (dense) or the DGC memory's two buffers per parameter, and room for the
// archive's own records.
std::int64_t checkpoint_bytes_estimate(torch::nn::Module& model, bool dgc) {
  std::int64_t parameters = 0, buffers = 0;
  for (const auto& t : model.parameters()) parameters += static_cast<std::int64_t>(t.nbytes());
  for (const auto& t : model.buffers()) buffers += static_cast<std::int64_t>(t.nbytes());
  return parameters * (dgc ? 3 : 2) + buffers + (1 << 20);
}

}  // namespace

int run_training(const CommandLine& command_line, Communicator& comm) {
  const bool leader = comm.rank() == 0;
  const RunSetup setup = set_up_run(command_line, comm);
  const Config& config = setup.config;
  const RunSettings& s = setup.settings;
  const std::string& run_dir = setup.run_dir;
  install_stop_handlers(leader);

  std::unique_ptr<RunDirectory> directory;
  std::unique_ptr<CheckpointStore> store;
  run_together(comm, [&] {
    directory = std::make_unique<RunDirectory>(run_dir, leader);
    store = std::make_unique<CheckpointStore>(run_dir, comm.rank());
  });

  const Split train = open_split(s, /*train=*/true, comm);
  const Split test = open_split(s, /*train=*/false, comm);
  const Model model = build_model(s);
  auto optimizer = make_optimizer(*model.module, s);
  DistributedOptions options;
  options.backward_passes_per_step = static_cast<int>(s.num_batches_per_step);
  options.bucket_bytes = s.bucket_bytes;
  options.overlap = s.overlap;
  options.comm_thread_cpus = s.comm_thread_cpus;
  comm.set_wait_policy(s.wait);
  const auto named = model.module->named_parameters().pairs();
  std::optional<RunLog> log;          // opened once the run really starts
  const DgcHook* dgc_hook = nullptr;  // for its compress ratio
  std::unique_ptr<CommHook> hook;
  if (s.dgc) {
    Compressor compressor(s.compressor, s.memory);
    if (leader) {
      compressor.set_logger([&log](const std::string& line) {
        if (log) log->print(line);
      });
    }
    auto dgc = make_dgc_hook(s.exchange, std::move(compressor), s.dgc_exchange, s.dgc_auto);
    dgc_hook = dgc.get();
    hook = std::move(dgc);
  } else if (s.exchange == "powersgd") {
    hook = std::make_unique<PowerSgdHook>(s.powersgd);
  } else {
    hook = make_allreduce_hook(s.exchange);
  }
  auto distributed =
      std::make_unique<DistributedOptimizer>(comm, *optimizer, named, std::move(hook), options);
  run_together(comm, [&] {
    // PowerSGD's errors weigh what DGC's second buffer does.
    const std::int64_t file =
        checkpoint_bytes_estimate(*model.module, s.dgc || s.exchange == "powersgd");
    directory->check_free_space(CheckpointStore::bytes_per_set(file),
                                "one checkpoint set (epoch, latest and best files of about " +
                                    std::to_string(file >> 20) + " MiB each)");
  });

  // Resume where every rank can, or start fresh from rank 0's model.
  ResumeDecision resume = decide_resume(comm, *store);
  Position position;
  std::int64_t inputs_seen = 0;
  double best = 0;
  std::vector<std::string> accepted_changes;
  if (resume.file) {
    run_together(comm, [&] {
      const auto& allowed = command_line.allow_changed;
      std::string refused;
      for (const auto& change :
           changed_settings(resume.meta.config_yaml, config, schema_of(config))) {
        if (std::count(allowed.begin(), allowed.end(), "all") > 0 ||
            std::count(allowed.begin(), allowed.end(), change.key) > 0) {
          accepted_changes.push_back(change.text);
        } else {
          refused += "\n  " + change.text;
        }
      }
      DGC_CHECK(refused.empty(), "cannot resume in ", run_dir,
                ": these settings differ from the checkpoint's", refused,
                "\nRerun with the checkpoint's settings, or accept the change with "
                "--allow-changed KEY[,KEY...] (or --allow-changed all), or start a new run");
      store->restore(*resume.file, [&](torch::serialize::InputArchive& archive) {
        load_state(archive, model, *optimizer, distributed->hook());
      });
    });
    position = resume.meta.position;
    inputs_seen = resume.meta.inputs_seen;
    best = resume.meta.best;
  } else {
    distributed->broadcast_parameters(0);
    distributed->broadcast_tensors(model.module->buffers(), 0);
    distributed->broadcast_optimizer_state(0);
    // Dropout and anything else random differ per rank, reproducibly.
    torch::manual_seed(s.seed + 1 + static_cast<std::uint64_t>(comm.rank()));
  }
  const std::string config_yaml = config.to_yaml();
  check_ranks_agree(comm, position, crc32c(config_yaml.data(), config_yaml.size()),
                    parameter_digest(*model.module));

  // The run starts (or resumes) here: only now is its record written.
  directory->mark_started();
  log.emplace(run_dir, leader, s.tensorboard, s.progress_bar, resume.file ? inputs_seen : -1);
  if (leader) apps::write_file_atomically(run_dir + "/config.yaml", config_yaml);
  log->print(config_yaml);
  log->print("=> run directory " + run_dir + ", " + std::to_string(comm.size()) + " rank(s), " +
             std::to_string(at::get_num_threads()) + " thread(s) each");
  for (const auto& note : train.notes) log->print(note);
  for (const auto& note : test.notes) log->print(note);
  if (!resume.warning.empty()) log->print(resume.warning);
  for (const auto& change : accepted_changes)
    log->print("=> changed since the checkpoint: " + change);
  if (resume.file) {
    log->print("=> resumed from " + resume.file->path + " at " + describe(position));
    resume.file.reset();  // its bytes are no longer needed
  }

  const auto save_meta = [&](const Position& at) {
    CheckpointMeta meta;
    meta.position = at;
    meta.inputs_seen = inputs_seen;
    meta.best = best;
    meta.world_size = comm.size();
    meta.rank = comm.rank();
    meta.config_yaml = config_yaml;
    return to_text(meta);
  };
  const auto write_state = [&](torch::serialize::OutputArchive& archive) {
    save_state(archive, model, *optimizer, distributed->hook());
  };
  // Every rank saves, and every rank learns whether all could: a full disk on one rank must not
  // leave the others resuming from a newer position than it.
  const auto save = [&](const std::function<void()>& write) {
    run_together(comm, [&] {
      const std::string bad = first_non_finite_parameter(*model.module);
      DGC_CHECK(bad.empty(), "parameter '", bad,
                "' holds a NaN or an infinity; nothing was saved (the last checkpoint stays)");
      write();
    });
  };

  DistributedSampler sampler(train.samples->size(), comm.rank(), comm.size(), /*shuffle=*/true,
                             s.seed);
  const std::int64_t step_inputs = s.batch_size * s.num_batches_per_step * comm.size();
  const std::int64_t end_epoch = s.stop_after_epochs > 0
                                     ? std::min(s.num_epochs, position.epoch + s.stop_after_epochs)
                                     : s.num_epochs;
  // The stop signal the ranks agreed on after a step: every rank decides from it alone, never
  // from its own flag (a signal may reach one rank only, or arrive between two steps).
  int stop_signal = 0;
  // After the checkpoint: the exit code a shell gives a process killed by the signal.
  const auto stopped = [&](const std::string& where) {
    log->print("=> stopped by signal " + std::to_string(stop_signal) + " at " + where +
               "; every rank saved its checkpoint. Rerun the same command to resume there.");
    return 128 + stop_signal;
  };
  StepTimeline timeline(comm, s.timeline ? s.timeline_steps : 0, run_dir, inputs_seen);
  for (std::int64_t epoch = position.epoch; epoch < end_epoch; ++epoch) {
    const std::int64_t first_step = epoch == position.epoch ? position.step : 0;
    distributed->set_epoch(epoch);
    sampler.set_epoch(epoch);
    LoaderOptions loader_options;
    loader_options.batch_size = s.batch_size;
    loader_options.epoch = epoch;
    loader_options.prefetch = s.prefetch_batches;
    loader_options.workers = s.loader_workers;
    loader_options.start_batch = first_step * s.num_batches_per_step;
    BatchLoader loader(train.samples, sampler.indices(), loader_options);
    const std::int64_t steps =
        (loader.num_batches() + s.num_batches_per_step - 1) / s.num_batches_per_step;
    log->start_epoch(epoch, s.num_epochs, steps, first_step);
    Batch batch;
    for (std::int64_t step = first_step; step < steps; ++step) {
      const double lr = learning_rate(s.schedule, epoch, step, steps);
      set_learning_rate(*optimizer, lr);
      // Reset once the ranks agreed on the step's outcome: the timeline's "step" span.
      std::optional<TimelineSpan> step_span{std::in_place, "step", "train", "step",
                                            inputs_seen / step_inputs};
      distributed->zero_grad();
      double loss_sum = 0;
      std::int64_t inputs = 0;
      for (std::int64_t micro = 0; micro < s.num_batches_per_step && loader.next(batch); ++micro) {
        torch::Tensor loss;
        {
          const TimelineSpan span("forward", "train");
          // The micro-batches' mean (section 9): each loss divided by their count.
          loss = torch::nn::functional::cross_entropy(model.forward(batch.data), batch.target) /
                 static_cast<double>(s.num_batches_per_step);
        }
        {
          const TimelineSpan span("backward", "train");
          loss.backward();
        }
        loss_sum += loss.item<double>();
        inputs += batch.target.size(0);
      }
      // A step that throws on the caller's thread (a non-finite averaged gradient, a malformed
      // message) throws alike on every rank; the outcome below makes sure of it before leaving.
      std::string step_error;
      try {
        distributed->step();
      } catch (const Error& e) {
        step_error = e.message();
      }
      const StepOutcome outcome =
          agree_on_step(comm, stop_requested(), std::isfinite(loss_sum), !step_error.empty());
      step_span.reset();
      if (outcome.any_failed) {
        run_together(comm, [&] {
          if (!step_error.empty()) DGC_FAIL(step_error);
        });
      }
      if (!outcome.non_finite_loss.empty()) {
        throw CollectiveFailure("the training loss is not finite on rank(s) " +
                                rank_list(outcome.non_finite_loss) + " at " +
                                describe(Position{epoch, step}) +
                                " (the learning rate is too high?); the run stops and saves "
                                "nothing: the last checkpoint stays as it was");
      }
      inputs_seen += step_inputs;
      log->step_done(step, loss_sum, inputs);
      timeline.step_done();
      // Every step: encoded messages and the warm-up change the bytes from step to step.
      const TrafficStats& traffic = distributed->last_step_traffic();
      log->scalar("traffic/bytes_sent", static_cast<double>(traffic.bytes_sent), inputs_seen);
      log->scalar("traffic/bytes_received", static_cast<double>(traffic.bytes_received),
                  inputs_seen);
      log->scalar("traffic/intra_node_bytes", static_cast<double>(traffic.intra_node_bytes),
                  inputs_seen);
      if (step % s.log_every_steps == 0 || step + 1 == steps) {
        log->scalar("loss/train", loss_sum, inputs_seen);
        log->scalar("lr", lr, inputs_seen);
        if (dgc_hook != nullptr) {
          log->scalar("dgc/compress_ratio", dgc_hook->compressor().compress_ratio(), inputs_seen);
        }
      }
      stop_signal = outcome.stop_signal;
      if (stop_signal != 0 && step + 1 < steps) {
        const Position at{epoch, step + 1};
        save([&] { store->save_latest(save_meta(at), write_state); });
        return stopped(describe(at));
      }
    }
    log->end_epoch(inputs_seen);

    const Accuracy accuracy = evaluate(model, test.samples, s, comm);
    const double value = s.metric == "acc/test_top5" ? accuracy.top5 : accuracy.top1;
    const bool is_best = value > best;
    best = std::max(best, value);
    log->meter("acc/test_top1", accuracy.top1, inputs_seen);
    log->meter("acc/test_top5", accuracy.top5, inputs_seen);
    log->meter(s.metric + "_best", best, inputs_seen);
    log->print("=> " +
               describe_traffic(distributed->last_step_traffic(), s.exchange != "allreduce"));
    if (const auto* automatic = dynamic_cast<const DgcAutoHook*>(dgc_hook)) {
      log->print("=> dgc_auto's schemes, with each candidate's predicted time:\n" +
                 automatic->describe_choices());
    }
    save([&] { store->save_epoch(epoch, save_meta({epoch + 1, 0}), write_state, is_best); });
    if (stop_signal != 0) return stopped("the end of epoch " + std::to_string(epoch + 1));
  }
  char digest[16];
  std::snprintf(digest, sizeof digest, "%08x", model_digest(*model.module));
  log->print("=> done: best " + s.metric + " " + std::to_string(best) + ", model digest " + digest);
  return 0;
}

}  // namespace dgc::train
