#include "evaluation.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "checkpoint/checkpoint_meta.h"
#include "checkpoint/checkpoint_store.h"
#include "collective.h"
#include "datasets.h"
#include "dgc/error.h"
#include "input/loader.h"
#include "log/crc32c.h"
#include "run_setup.h"
#include "setting_changes.h"
#include "train_state.h"

namespace dgc::train {

Accuracy evaluate(const Model& model, const std::shared_ptr<const SampleSource>& test,
                  const RunSettings& s, Communicator& comm) {
  torch::NoGradGuard no_grad;
  model.module->eval();
  std::vector<std::int64_t> indices;
  for (std::int64_t i = comm.rank(); i < test->size(); i += comm.size()) indices.push_back(i);
  LoaderOptions options;
  options.batch_size = s.eval_batch_size;
  options.prefetch = s.prefetch_batches;
  options.workers = s.loader_workers;
  BatchLoader loader(test, indices, options);
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

namespace {

// --checkpoint's value: a name (best, latest, e<N>) of the run's own files, or a file.
bool names_run_files(const std::string& checkpoint) {
  return checkpoint.find('/') == std::string::npos &&
         (checkpoint.size() < 3 || checkpoint.compare(checkpoint.size() - 3, 3, ".pt") != 0);
}

bool is_checkpoint_name(const std::string& name) {
  if (name == "best" || name == "latest") return true;
  return name.size() > 1 && name[0] == 'e' &&
         name.find_first_not_of("0123456789", 1) == std::string::npos;
}

}  // namespace

int run_evaluation(const CommandLine& command_line, Communicator& comm) {
  const bool leader = comm.rank() == 0;
  const RunSetup setup = set_up_run(command_line, comm);
  const RunSettings& s = setup.settings;
  const std::string checkpoint = command_line.checkpoint.empty() ? "best" : command_line.checkpoint;
  // Each rank's own file, as training evaluated it (batch norm's running statistics differ per
  // rank), or one file whose model every rank receives from rank 0.
  const bool own_files = names_run_files(checkpoint);
  const std::string path =
      own_files ? CheckpointStore::path_in(setup.run_dir, checkpoint, comm.rank()) : checkpoint;
  const Model model = build_model(s);
  CheckpointMeta meta;
  std::vector<SettingChange> changes;
  run_together(comm, [&] {
    if (!own_files && !leader) return;  // on real hosts the others may not see the file
    DGC_CHECK(!own_files || is_checkpoint_name(checkpoint), "--checkpoint ", checkpoint,
              ": give best, latest or e<N> (this run's files of that name, each rank its own), "
              "or a file's path (ending in .pt)");
    DGC_CHECK(std::filesystem::exists(path), "no checkpoint ", path,
              own_files && checkpoint == "best"
                  ? ": this run has not finished an epoch yet (train it first, with the same "
                    "--configs, --suffix and number of ranks), or name a file with --checkpoint"
                  : "");
    const CheckpointFile file = CheckpointStore::read(path);
    meta = parse_meta(file.metadata, path);
    changes = changed_settings(meta.config_yaml, setup.config, schema_of(setup.config));
    CheckpointStore::restore(
        file, [&](torch::serialize::InputArchive& archive) { load_model_state(archive, model); });
  });
  const std::string config_yaml = setup.config.to_yaml();
  check_same_on_every_rank(comm, std::to_string(crc32c(config_yaml.data(), config_yaml.size())),
                           "the settings (config CRC-32C; different config files on some host?)");
  if (own_files) {
    check_same_on_every_rank(comm, describe(meta.position),
                             "the position of their " + checkpoint + " checkpoints");
  } else {
    torch::NoGradGuard no_grad;
    for (auto tensors : {model.module->parameters(), model.module->buffers()}) {
      for (auto& t : tensors) comm.broadcast(t, 0);
    }
  }
  const Split test = open_split(s, /*train=*/false, comm);

  if (leader) {
    std::printf("=> evaluating %s%s (saved at %s, best %s then %.4g) on %d rank(s)\n", path.c_str(),
                own_files ? " and the other ranks' own" : "", describe(meta.position).c_str(),
                s.metric.c_str(), meta.best, comm.size());
    for (const auto& note : test.notes) std::printf("%s\n", note.c_str());
    for (const auto& change : changes) {
      std::printf("=> differs from the checkpoint's config: %s\n", change.text.c_str());
    }
    std::fflush(stdout);
  }
  const Accuracy accuracy = evaluate(model, test.samples, s, comm);
  if (leader) {
    std::printf("[acc/test_top1] = %.4g\n[acc/test_top5] = %.4g\n", accuracy.top1, accuracy.top5);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace dgc::train
