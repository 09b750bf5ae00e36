#include "step_timeline.h"

#include "collective.h"

namespace dgc::train {

StepTimeline::StepTimeline(Communicator& comm, std::int64_t steps, const std::string& run_dir,
                           std::int64_t inputs_seen)
    : comm_(comm), steps_left_(steps) {
  if (steps_left_ == 0) return;
  run_together(comm_, [&] {
    if (comm_.rank() != 0) return;
    timeline_ = std::make_unique<Timeline>(
        run_dir + "/timeline." + std::to_string(inputs_seen) + ".json", "rank 0");
  });
  // Only now: the agreement above is no part of a step.
  if (timeline_ != nullptr) set_timeline(timeline_.get());
}

StepTimeline::~StepTimeline() {
  if (timeline_ != nullptr) set_timeline(nullptr);
}

void StepTimeline::step_done() {
  if (steps_left_ == 0) return;
  --steps_left_;
  // The agreement's own collective is tracing's overhead, not the training's: left out.
  set_timeline(nullptr);
  run_together(comm_, [&] {
    if (timeline_ == nullptr) return;
    if (steps_left_ > 0) return timeline_->flush();
    const auto done = std::move(timeline_);
    done->close();
  });
  if (timeline_ != nullptr) set_timeline(timeline_.get());
}

}  // namespace dgc::train
