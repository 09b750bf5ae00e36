#include "run_log.h"

#include <algorithm>
#include <cstdio>

#include "log/step_times.h"
#include "log/terminal.h"

namespace dgc::train {

RunLog::RunLog(const std::string& run_dir, bool enabled, bool tensorboard, bool progress_bar,
               std::int64_t resumed_at_step)
    : enabled_(enabled), on_terminal_(enabled && progress_bar && stdout_is_users_terminal()) {
  if (!enabled_) return;
  csv_ = std::make_unique<MetricsCsv>(run_dir, resumed_at_step);
  if (tensorboard) {
    events_ = std::make_unique<EventWriter>(run_dir);
    if (resumed_at_step >= 0) events_->purge_from(resumed_at_step + 1);
  }
}

void RunLog::scalar(const std::string& tag, double value, std::int64_t step) {
  if (!enabled_) return;
  csv_->add_scalar(tag, value, step);
  if (events_) events_->add_scalar(tag, value, step);
}

void RunLog::meter(const std::string& tag, double value, std::int64_t step) {
  if (!enabled_) return;
  std::printf("[%s] = %.4g\n", tag.c_str(), value);
  std::fflush(stdout);
  scalar(tag, value, step);
}

void RunLog::print(const std::string& line) {
  if (!enabled_) return;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void RunLog::start_epoch(std::int64_t epoch, std::int64_t num_epochs, std::int64_t steps,
                         std::int64_t first_step) {
  epoch_ = epoch;
  num_epochs_ = num_epochs;
  steps_ = steps;
  first_step_ = first_step;
  inputs_ = 0;
  epoch_start_ = last_step_end_ = std::chrono::steady_clock::now();
  step_seconds_.clear();
}

void RunLog::step_done(std::int64_t step, double loss, std::int64_t inputs) {
  if (!enabled_) return;
  inputs_ += inputs;
  const auto now = std::chrono::steady_clock::now();
  step_seconds_.push_back(std::chrono::duration<double>(now - last_step_end_).count());
  last_step_end_ = now;
  const double seconds = std::chrono::duration<double>(now - epoch_start_).count();
  const double left = seconds / static_cast<double>(step + 1 - first_step_) *
                      static_cast<double>(steps_ - step - 1);
  const bool last = step + 1 == steps_;
  // On a terminal the line is redrawn every step; in a log file one line per tenth of the epoch.
  if (!on_terminal_ && !last && (step + 1) % std::max<std::int64_t>(1, steps_ / 10) != 0) return;
  std::printf("%sepoch %lld/%lld  step %lld/%lld  loss %.4f  %.1f inputs/s  %.0f s left%s",
              on_terminal_ ? "\r" : "", static_cast<long long>(epoch_ + 1),
              static_cast<long long>(num_epochs_), static_cast<long long>(step + 1),
              static_cast<long long>(steps_), loss, static_cast<double>(inputs_) / seconds, left,
              on_terminal_ ? "   " : "\n");
  std::fflush(stdout);
}

void RunLog::end_epoch(std::int64_t inputs_seen) {
  if (!enabled_) return;
  if (on_terminal_) std::printf("\n");
  if (step_seconds_.empty()) return;
  const StepTimeSummary steps = summarize_step_times(step_seconds_);
  meter("time/step_ms", steps.median_seconds * 1000.0, inputs_seen);
  meter("time/step_mean_ms", steps.mean_seconds * 1000.0, inputs_seen);
}

}  // namespace dgc::train
