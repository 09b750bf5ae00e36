// logging.timeline: rank 0's Chrome trace (dgc::Timeline) of the first logging.timeline_steps
// steps from where the run starts or resumes, in RUN_DIR/timeline.<inputs seen>.json (the step
// axis of metrics.csv, so a resumed run writes a file of its own beside the first one's). One
// rank writes, as in Horovod; the others only take part in agreeing that each flush succeeded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dgc/communicator.h"
#include "dgc/timeline.h"

namespace dgc::train {

class StepTimeline {
 public:
  // Collective when `steps` > 0: rank 0 creates the file, and every rank stops if it could not.
  StepTimeline(Communicator& comm, std::int64_t steps, const std::string& run_dir,
               std::int64_t inputs_seen);
  // Clears the active timeline; the file keeps what was flushed.
  ~StepTimeline();
  StepTimeline(const StepTimeline&) = delete;
  StepTimeline& operator=(const StepTimeline&) = delete;

  // After each step: writes the step's spans, and closes the file after the last traced step.
  // Collective while steps are left to trace (a full disk stops every rank alike).
  void step_done();

 private:
  Communicator& comm_;
  std::int64_t steps_left_;
  std::unique_ptr<Timeline> timeline_;  // rank 0's, while it traces
};

}  // namespace dgc::train
