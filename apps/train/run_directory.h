// A run directory's life: created on demand, locked against a second job, checked for the room
// its checkpoints need, and removed again when the run fails before it really started (so failed
// starts leave no empty directories behind).
//
// The lock is an flock(2) on `<dir>/.lock`, held by rank 0 for the life of the object: a second
// job on the same directory gets one error naming the holder (pid and host written in the file).
// flock is advisory and local to one machine's kernel (on NFS it depends on the mount): it
// protects against the common mistake of starting the same command twice, not against every
// shared-filesystem setup. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace dgc::train {

class RunDirectory {
 public:
  // Creates `path` if missing; `leader` (rank 0) also takes the lock. A dgc::Error names the
  // directory and, for a held lock, its holder.
  RunDirectory(std::string path, bool leader);
  // Releases the lock; if this object created the directory and the run never started, removes
  // the lock file and the directory if nothing else is in it.
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  // The run has started or resumed: from now on the directory stays whatever happens.
  void mark_started() { started_ = true; }

  // A dgc::Error unless the filesystem holding the directory has `bytes` free for `what`.
  void check_free_space(std::int64_t bytes, const std::string& what) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool created_ = false, started_ = false;
  int lock_fd_ = -1;
};

}  // namespace dgc::train
