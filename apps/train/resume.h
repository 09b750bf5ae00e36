// Where a dgc-train run resumes, decided by all ranks together (docs/TRAINING.md, "Resume").
//
// Every rank holds its own checkpoint files (its DGC memory is its own). Each rank reads and
// verifies its files (checkpoint_file.h: the CRC, then the metadata), the ranks exchange what
// they found, and every rank computes the same answer from the same reports:
//   - no rank has a file: a fresh start;
//   - some ranks have files and others none, or the files were written by another world size:
//     one error naming the ranks (resuming at another world size is refused: each rank's DGC
//     memory and data shard belong to that world size);
//   - otherwise the newest position that every rank holds intact: normally every rank's latest;
//     a corrupt, missing or newer latest (a crash mid-save, flipped bytes) falls back, on every
//     rank together and with a warning, to the newest epoch file all ranks have; none in common
//     is one error listing what each rank holds.
// The settings stored in the checkpoint are compared with the run's: keys that change the
// training (anything outside logging and a few run-shape keys) refuse the resume unless named in
// --allow-changed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint_meta.h"
#include "checkpoint/checkpoint_store.h"
#include "dgc/communicator.h"

namespace dgc::train {

struct ResumeDecision {
  // The file this rank loads, verified and read; nullopt: a fresh start.
  std::optional<CheckpointFile> file;
  CheckpointMeta meta;
  // What rank 0 prints before resuming (a fallback from latest), or empty.
  std::string warning;
};

// Collective. Throws CollectiveFailure (collective.h) on every rank when the ranks cannot resume
// together.
ResumeDecision decide_resume(Communicator& comm, const CheckpointStore& store);

// After a resume or a fresh start's broadcast: every rank must stand at the same position, with
// the same settings (`config_crc`) and the same model parameters (`parameters`, the replicas).
// Collective; throws CollectiveFailure naming the ranks that differ from rank 0 and in what.
void check_ranks_agree(Communicator& comm, const Position& position, std::uint32_t config_crc,
                       std::uint32_t parameters);

}  // namespace dgc::train
