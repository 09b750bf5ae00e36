// What a dgc-train checkpoint file says about itself: its metadata text (checkpoint_file.h), as
// YAML. Where the run stood (the next epoch and the steps of it already done), what it had seen,
// which rank of how many wrote it, and the resolved config it ran with. Torch-free pure
// functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace dgc::train {

// A point in a run: the next epoch to train and the steps of it already done (0 at an epoch's
// end; more after a stop on a signal).
struct Position {
  std::int64_t epoch = 0, step = 0;
  bool operator==(const Position& o) const { return epoch == o.epoch && step == o.step; }
  bool operator<(const Position& o) const {
    return epoch < o.epoch || (epoch == o.epoch && step < o.step);
  }
};
// "epoch 3 (start)" or "epoch 3 after step 17": epochs counted from 1, as the progress line does.
std::string describe(const Position& p);

struct CheckpointMeta {
  Position position;
  std::int64_t inputs_seen = 0;
  double best = 0;
  int world_size = 1, rank = 0;
  std::string config_yaml;  // the resolved config of the run that wrote it
};

std::string to_text(const CheckpointMeta& meta);
// A dgc::Error naming `file` if the text is not a complete, possible CheckpointMeta.
CheckpointMeta parse_meta(const std::string& text, const std::string& file);

}  // namespace dgc::train
