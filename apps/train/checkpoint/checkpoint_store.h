// dgc-train's checkpoint files for one rank (ALGORITHM.md section 9).
//
// Files in `directory`, per rank because every rank's DGC memory (momentum and velocity
// residuals) differs: `e{epoch}-r{rank}.pt` for each saved epoch, of which only the `keep`
// newest (largest epoch) are kept, `latest-r{rank}.pt`, and `best-r{rank}.pt`.
//
// Every file appears atomically (dgc::apps::write_file_atomically: a temporary file, fsync,
// rename), so a crash at any moment leaves each real name holding either the previous complete
// checkpoint or the new complete one, never a half-written file. latest and best are copies, not
// symlinks: a symlink to an epoch file would dangle once rotation deletes that epoch (best is
// often an old epoch), and copies survive copying the run directory anywhere.
//
// The store only names, writes, rotates and reads files: what goes into an archive (model,
// optimizer, compressor memory, sampler position, RNG state) is the caller's. Not thread-safe:
// one store per rank, used by one thread. Errors are dgc::Errors naming the file.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

// Forward declarations keep this header cheap to include; callers that fill or read an archive
// include <torch/serialize/archive.h> themselves.
namespace torch::serialize {
class OutputArchive;
class InputArchive;
}  // namespace torch::serialize

namespace dgc::train {

class CheckpointStore {
 public:
  // Creates `directory` (and its parents) if missing, and removes this rank's temporary files
  // left by a crash. Requires rank >= 0 and keep >= 1.
  CheckpointStore(std::string directory, int rank, int keep = 3);

  // Serializes `write`'s archive once, then writes it atomically as e{epoch}, then latest, then
  // best when `is_best`, then deletes this rank's epoch files beyond the `keep` newest. If
  // `write` throws, nothing on disk changes and the exception propagates. The archive is held
  // in memory while the (up to three) files are written.
  void save(std::int64_t epoch, const std::function<void(torch::serialize::OutputArchive&)>& write,
            bool is_best);

  // The path of this rank's latest checkpoint, or nullopt if there is none (a fresh run).
  std::optional<std::string> latest() const;

  // Loads this rank's latest checkpoint and hands it to `read`. Returns false, calling nothing,
  // when there is none. A file that cannot be read (truncated, corrupt) or whose content
  // `read` cannot find is a dgc::Error naming the file; dgc::Errors thrown by `read` pass
  // through unchanged.
  bool load_latest(const std::function<void(torch::serialize::InputArchive&)>& read) const;

  const std::string& directory() const { return directory_; }
  std::string epoch_path(std::int64_t epoch) const;
  std::string latest_path() const;
  std::string best_path() const;

 private:
  // Deletes this rank's epoch files beyond the `keep_` largest epochs.
  void rotate() const;

  std::string directory_;
  int rank_;
  int keep_;
};

}  // namespace dgc::train
