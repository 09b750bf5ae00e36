// dgc-train's checkpoint files for one rank (ALGORITHM.md section 9).
//
// Files in `directory`, per rank because every rank's DGC memory (momentum and velocity
// residuals) differs: `e{epoch}-r{rank}.pt` for each completed epoch, of which only the `keep`
// newest (largest epoch) are kept, `latest-r{rank}.pt` (the newest position, which may be inside
// an epoch after a stop on a signal), and `best-r{rank}.pt`. Each file is checkpoint_file.h's
// layout: a CRC-32C over the whole file, a metadata text, the libtorch archive.
//
// Every file appears atomically (dgc::apps::write_file_atomically: a temporary file, fsync,
// rename), so a crash at any moment leaves each real name holding either the previous complete
// checkpoint or the new complete one, never a half-written file; bytes changed later on disk are
// caught by the CRC when the file is read. latest and best are copies, not symlinks: a symlink to
// an epoch file would dangle once rotation deletes that epoch (best is often an old epoch), and
// copies survive copying the run directory anywhere.
//
// The store only names, writes, rotates, verifies and reads files: what goes into the metadata
// and the archive is the caller's, and so is choosing which file to resume from (all ranks must
// agree). Not thread-safe: one store per rank, used by one thread. Errors are dgc::Errors naming
// the file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

// Forward declarations keep this header cheap to include; callers that fill or read an archive
// include <torch/serialize/archive.h> themselves.
namespace torch::serialize {
class OutputArchive;
class InputArchive;
}  // namespace torch::serialize

namespace dgc::train {

// One checkpoint file read whole and verified (magic, version, lengths, CRC).
struct CheckpointFile {
  std::string path;
  std::string metadata;
  std::string bytes;  // the whole file
  std::size_t payload_offset = 0;
};

class CheckpointStore {
 public:
  using Writer = std::function<void(torch::serialize::OutputArchive&)>;
  using Reader = std::function<void(torch::serialize::InputArchive&)>;

  // Creates `directory` (and its parents) if missing, and removes this rank's temporary files
  // left by a crash. Requires rank >= 0 and keep >= 1.
  CheckpointStore(std::string directory, int rank, int keep = 3);

  // The end of `epoch`: serializes `write`'s archive once, then writes it atomically as
  // e{epoch}, then latest, then best when `is_best`, then deletes this rank's epoch files beyond
  // the `keep` newest. If `write` throws, nothing on disk changes and the exception propagates.
  void save_epoch(std::int64_t epoch, const std::string& metadata, const Writer& write,
                  bool is_best);
  // A position inside an epoch (a stop on a signal): latest only.
  void save_latest(const std::string& metadata, const Writer& write);

  // This rank's checkpoint files that exist, newest first: latest, then e{N} by descending N.
  std::vector<std::string> files() const;
  // Reads `path` whole and verifies it; a dgc::Error naming the file says what is wrong.
  static CheckpointFile read(const std::string& path);
  // Hands the archive of a verified file to `read_archive`. A payload libtorch cannot parse, or
  // whose content `read_archive` cannot find, is a dgc::Error naming the file; dgc::Errors thrown
  // by `read_archive` pass through unchanged.
  static void restore(const CheckpointFile& file, const Reader& read_archive);

  // The disk space of one checkpoint set (the epoch file, latest and best) of `file_bytes` each.
  static std::int64_t bytes_per_set(std::int64_t file_bytes) { return 3 * file_bytes; }

  const std::string& directory() const { return directory_; }
  // `directory`/{name}-r{rank}.pt: the file of `name` ("latest", "best", "e3") of `rank`.
  static std::string path_in(const std::string& directory, const std::string& name, int rank);
  std::string epoch_path(std::int64_t epoch) const;
  std::string latest_path() const;
  std::string best_path() const;

 private:
  std::string serialize(const std::string& metadata, const Writer& write) const;
  // Deletes this rank's epoch files beyond the `keep_` largest epochs.
  void rotate() const;
  // This rank's epoch files, largest epoch first.
  std::vector<std::pair<std::int64_t, std::string>> epoch_files() const;

  std::string directory_;
  int rank_;
  int keep_;
};

}  // namespace dgc::train
