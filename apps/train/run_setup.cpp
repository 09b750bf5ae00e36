#include "run_setup.h"

#include <ATen/Parallel.h>
#include <sched.h>
#include <torch/utils.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "collective.h"

namespace dgc::train {
namespace {

// Intra-op threads for one rank. OMP_NUM_THREADS, where set to a whole number >= 1, is the user's
// choice (as in PyTorch), and the only way to get it right where the machine's ranks do not all
// count as one node's (bench/cluster's hosts share one machine's cores). Otherwise a rank the
// launcher bound to some cores (mpirun binds each rank to one core when np <= 2) gets one thread
// per core it may run on: more threads than that would share a core, and OpenMP's spinning
// threads then slow each other down (2.2x per step measured at np 1). An unbound rank gets its
// share of the machine's cores.
int threads_per_rank(int local_size) {
  if (const char* text = std::getenv("OMP_NUM_THREADS")) {
    char* end = nullptr;
    const long threads = std::strtol(text, &end, 10);
    // A list ("4,2") is OpenMP's nesting: its first level is this rank's.
    if (end != text && (*end == '\0' || *end == ',') && threads >= 1 && threads <= 1024) {
      return static_cast<int>(threads);
    }
  }
  const int machine = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) < machine) {
    return std::max(1, CPU_COUNT(&allowed));
  }
  return std::max(1, machine / local_size);
}

}  // namespace

RunSetup set_up_run(const CommandLine& command_line, Communicator& comm) {
  RunSetup setup;
  run_together(comm, [&] {
    setup.config = load_config(command_line.configs, command_line.overrides);
    setup.settings = read_settings(setup.config);
    setup.settings.schedule.world_size = comm.size();
    check_lr_schedule_options(setup.settings.schedule);
  });
  comm.set_stall_check(setup.settings.stall_check);  // the config's, in place of the environment's
  at::set_num_threads(threads_per_rank(comm.local_size()));  // libtorch starts with one
  setup.run_dir = setup.settings.runs_dir + "/" +
                  run_name(command_line.configs, command_line.suffix, comm.size());
  return setup;
}

Model build_model(const RunSettings& s) {
  torch::manual_seed(s.seed);  // the same initial model on every rank, before the broadcast too
  return make_model(
      ModelSpec{s.model, s.num_channels, s.num_classes, s.image_size, s.zero_init_residual});
}

}  // namespace dgc::train
