// Rank 0's record of a run: scalars to stdout, metrics.csv and TensorBoard, and a progress line
// per epoch (redrawn in place on the user's terminal, plain lines otherwise, under mpirun too:
// log/terminal.h). On other ranks every call does nothing, so the trainer logs without asking
// who it is.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "log/event_writer.h"
#include "log/metrics_csv.h"

namespace dgc::train {

class RunLog {
 public:
  // `resumed_at_step` >= 0: a resumed run whose checkpoint had seen that many inputs; what the
  // previous invocation logged after it is dropped (metrics.csv) or purged (TensorBoard).
  RunLog(const std::string& run_dir, bool enabled, bool tensorboard, bool progress_bar,
         std::int64_t resumed_at_step = -1);

  // To metrics.csv and TensorBoard; `step` is the number of training inputs seen.
  void scalar(const std::string& tag, double value, std::int64_t step);
  // A line the seed prints too, e.g. "[acc/test_top1] = 91.23".
  void meter(const std::string& tag, double value, std::int64_t step);
  void print(const std::string& line);

  // `first_step` > 0 when the epoch resumes after its first steps.
  void start_epoch(std::int64_t epoch, std::int64_t num_epochs, std::int64_t steps,
                   std::int64_t first_step = 0);
  // After each training step: the bar's rate, loss and time left.
  void step_done(std::int64_t step, double loss, std::int64_t inputs);
  // Logs the epoch's step time (data wait included) as two meters (log/step_times.h): the median
  // as time/step_ms, robust to a noisy machine's outliers, and the mean of the steps after the
  // first as time/step_mean_ms, what a sum of steps needs where the steps have two modes.
  void end_epoch(std::int64_t inputs_seen);

 private:
  bool enabled_, on_terminal_;
  std::unique_ptr<EventWriter> events_;
  std::unique_ptr<MetricsCsv> csv_;
  std::int64_t epoch_ = 0, num_epochs_ = 0, steps_ = 0, first_step_ = 0, inputs_ = 0;
  std::chrono::steady_clock::time_point epoch_start_, last_step_end_;
  std::vector<double> step_seconds_;
};

}  // namespace dgc::train
