// TensorBoard event files: scalar summaries in `events.out.tfevents.<unix seconds>.<hostname>`.
//
// No Debian package writes these from C++, so the few fields TensorBoard needs are hand-encoded:
// a TFRecord stream (each record: uint64 little-endian length, masked CRC-32C of those 8 bytes,
// the data, masked CRC-32C of the data) of serialized `tensorflow.Event` protobufs. The first
// record carries file_version "brain.Event:2"; every later one a Summary with one simple_value.
//
// Every record is written through to the OS as it is added, so a crash loses at most the record
// being written. Not thread-safe: one writer per run directory, used by one thread (rank 0).
// I/O errors throw dgc::Error naming the file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace dgc::train {

class EventWriter {
 public:
  // Creates `run_dir` (and its parents) if missing, opens the event file and writes the
  // file_version record.
  explicit EventWriter(const std::string& run_dir);

  // One scalar summary at wall time now. TensorBoard stores simple_value as float, so `value`
  // is narrowed to float.
  void add_scalar(const std::string& tag, double value, std::int64_t step);

  // A resumed run's mark: TensorBoard drops every event of this run directory with a step >=
  // `step` that it read before this record (SessionLog START, as PyTorch's SummaryWriter writes
  // for purge_step), so the steps a crashed run logged after its checkpoint do not show twice.
  void purge_from(std::int64_t step);

  // Records are already flushed as they are added; this only surfaces a late I/O error.
  void flush();

  // The event file's full path.
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& data);

  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };

  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
};

}  // namespace dgc::train
