#include "log/metrics_csv.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "atomic_file.h"
#include "dgc/error.h"

namespace dgc::train {
namespace {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

// Shortest round-trip form: 0.1 prints as 0.1 (not %.17g's 0.10000000000000001), and every
// value still reads back bit for bit, which %.9g would only guarantee for floats.
std::string format_value(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

constexpr const char* kHeader = "step,tag,value\n";

// The rows of `path` up to `last_step`: a resumed run continues from its checkpoint, and the rows
// that a crashed run logged after it would otherwise appear twice. A row whose step does not
// parse, or that has no newline (torn by the crash), is dropped too.
void keep_rows_through(const std::string& path, std::int64_t last_step) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return;  // nothing logged yet
  std::string line, kept = kHeader;
  bool header = true;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // no newline: torn
    if (header) {
      header = false;
      continue;
    }
    std::int64_t step = 0;
    const auto [end, status] = std::from_chars(line.data(), line.data() + line.size(), step);
    if (status == std::errc() && end != line.data() && *end == ',' && step <= last_step) {
      kept += line + "\n";
    }
  }
  apps::write_file_atomically(path, kept);
}

}  // namespace

MetricsCsv::MetricsCsv(const std::string& run_dir, std::int64_t keep_through_step) {
  std::error_code error;
  std::filesystem::create_directories(run_dir, error);
  DGC_CHECK(!error, "cannot create run directory ", run_dir, ": ", error.message());

  path_ = (std::filesystem::path(run_dir) / "metrics.csv").string();
  if (keep_through_step >= 0) keep_rows_through(path_, keep_through_step);
  file_.reset(std::fopen(path_.c_str(), "ab"));
  DGC_CHECK(file_ != nullptr, "cannot open ", path_, ": ", std::strerror(errno));
  // An existing but empty file (a run killed before its first row) still needs the header.
  DGC_CHECK(std::fseek(file_.get(), 0, SEEK_END) == 0, "cannot seek in ", path_, ": ",
            std::strerror(errno));
  const long size = std::ftell(file_.get());
  DGC_CHECK(size >= 0, "cannot read the size of ", path_, ": ", std::strerror(errno));
  if (size == 0) write(kHeader);
}

void MetricsCsv::add_scalar(const std::string& tag, double value, std::int64_t step) {
  write(std::to_string(step) + "," + csv_field(tag) + "," + format_value(value) + "\n");
}

void MetricsCsv::flush() {
  DGC_CHECK(std::fflush(file_.get()) == 0, "cannot write ", path_, ": ", std::strerror(errno));
}

// Write-through for the same reason as EventWriter: a row per step is tiny next to a training
// step, and a killed run keeps every row it logged.
void MetricsCsv::write(const std::string& text) {
  const bool written = std::fwrite(text.data(), 1, text.size(), file_.get()) == text.size();
  DGC_CHECK(written && std::fflush(file_.get()) == 0, "cannot write ", path_, ": ",
            std::strerror(errno));
}

}  // namespace dgc::train
