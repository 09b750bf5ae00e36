// metrics.csv in the run directory: one `step,tag,value` row per scalar, for plots and scripts.
//
// The header line is written only when the file is new (or empty); opening an existing file
// appends, so a resumed run continues its file, after dropping the rows that a crashed run logged
// past the step it resumes from. Values are printed in the shortest form that
// reads back to the same double. Rows are written through to the OS as they are added, so a
// crash loses at most the row being written. Not thread-safe: one writer per run directory,
// used by one thread (rank 0). I/O errors throw dgc::Error naming the file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace dgc::train {

class MetricsCsv {
 public:
  // Creates `run_dir` (and its parents) if missing and opens `<run_dir>/metrics.csv` to append.
  // With `keep_through_step` >= 0, first rewrites the file (atomically) without the rows whose
  // step is larger, and without a torn last row.
  explicit MetricsCsv(const std::string& run_dir, std::int64_t keep_through_step = -1);

  // Same argument order as EventWriter::add_scalar, so the trainer logs both alike. A tag
  // holding a comma, quote or newline is quoted as RFC 4180 says.
  void add_scalar(const std::string& tag, double value, std::int64_t step);

  // Rows are already flushed as they are added; this only surfaces a late I/O error.
  void flush();

  const std::string& path() const { return path_; }

 private:
  void write(const std::string& text);

  struct FileCloser {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };

  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
};

}  // namespace dgc::train
