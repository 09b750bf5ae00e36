#include "log/metrics_csv.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <system_error>

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

}  // namespace

MetricsCsv::MetricsCsv(const std::string& run_dir) {
  std::error_code error;
  std::filesystem::create_directories(run_dir, error);
  DGC_CHECK(!error, "cannot create run directory ", run_dir, ": ", error.message());

  path_ = (std::filesystem::path(run_dir) / "metrics.csv").string();
  file_.reset(std::fopen(path_.c_str(), "ab"));
  DGC_CHECK(file_ != nullptr, "cannot open ", path_, ": ", std::strerror(errno));
  // An existing but empty file (a run killed before its first row) still needs the header.
  DGC_CHECK(std::fseek(file_.get(), 0, SEEK_END) == 0, "cannot seek in ", path_, ": ",
            std::strerror(errno));
  const long size = std::ftell(file_.get());
  DGC_CHECK(size >= 0, "cannot read the size of ", path_, ": ", std::strerror(errno));
  if (size == 0) write("step,tag,value\n");
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
