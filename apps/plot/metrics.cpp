#include "metrics.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "dgc/error.h"

namespace dgc::plot {
namespace {

struct Record {
  int line = 0;  // where the record starts; a quoted line break makes it span more
  std::vector<std::string> fields;
};

// Splits CSV text into records by RFC 4180: a quoted field may hold commas, line breaks and
// doubled quotes. Records end at \n or \r\n; the last one needs no line break.
std::vector<Record> parse_records(const std::string& text, const std::string& path) {
  const auto at_record_end = [&](std::size_t i) {
    return i == text.size() || text[i] == '\n' ||
           (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n');
  };
  std::vector<Record> records;
  int line = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    Record record{line, {}};
    while (true) {
      std::string field;
      if (text[i] == '"') {
        for (++i;; ++i) {
          DGC_CHECK(i < text.size(), path, ":", record.line, ": unterminated quoted field");
          if (text[i] == '"' && (i + 1 == text.size() || text[i + 1] != '"')) break;
          if (text[i] == '"') ++i;  // a doubled quote stands for one
          if (text[i] == '\n') ++line;
          field += text[i];
        }
        ++i;
        DGC_CHECK(at_record_end(i) || text[i] == ',', path, ":", line,
                  ": unexpected text after a quoted field");
      } else {
        for (; !at_record_end(i) && text[i] != ','; ++i) {
          DGC_CHECK(text[i] != '"', path, ":", line, ": quote inside an unquoted field");
          field += text[i];
        }
      }
      record.fields.push_back(std::move(field));
      if (at_record_end(i)) break;
      ++i;  // the comma; a field follows even at the end of the text
    }
    records.push_back(std::move(record));
    i += i < text.size() && text[i] == '\r' ? 2 : 1;
    ++line;
  }
  return records;
}

// Whole-field numbers only: "12x", "" and out-of-range values are errors, not prefixes.
template <typename Number>
Number parse_number(const std::string& text, const char* what, const std::string& where) {
  Number value{};
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, value);
  DGC_CHECK(!text.empty() && result.ec == std::errc() && result.ptr == end, where, ": bad ", what,
            " '", text, "'");
  return value;
}

}  // namespace

Metrics read_metrics(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DGC_CHECK(in.is_open(), "cannot open ", path, ": ", std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  DGC_CHECK(!in.bad(), "cannot read ", path);
  const std::vector<Record> records = parse_records(text.str(), path);
  const std::vector<std::string> header = {"step", "tag", "value"};
  DGC_CHECK(!records.empty() && records[0].fields == header, path,
            ":1: the first line is not the header step,tag,value");

  // A map per tag: sorted by step, and a step logged again (after a resume) keeps its last value.
  std::map<std::string, std::map<std::int64_t, double>> rows;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const Record& record = records[r];
    const std::string where = path + ":" + std::to_string(record.line);
    DGC_CHECK(record.fields.size() == 3, where, ": expected 3 fields (step,tag,value), found ",
              record.fields.size());
    const auto step = parse_number<std::int64_t>(record.fields[0], "step", where);
    DGC_CHECK(step >= 0, where, ": negative step ", step);
    rows[record.fields[1]][step] = parse_number<double>(record.fields[2], "value", where);
  }
  Metrics metrics;
  for (const auto& [tag, by_step] : rows) {
    auto& samples = metrics[tag];
    for (const auto& [step, value] : by_step) samples.push_back({step, value});
  }
  return metrics;
}

RunCurves load_run(const std::string& dir, const std::string& label) {
  std::error_code error;
  DGC_CHECK(std::filesystem::exists(dir, error), "run directory ", dir, " does not exist");
  DGC_CHECK(std::filesystem::is_directory(dir, error), "run directory ", dir,
            " is not a directory");
  const std::string path = (std::filesystem::path(dir) / "metrics.csv").string();
  const Metrics metrics = read_metrics(path);
  const auto samples_of = [&](const char* tag) -> const std::vector<Sample>& {
    const auto found = metrics.find(tag);
    DGC_CHECK(found != metrics.end(), path, ": no ", tag, " rows");
    return found->second;
  };
  const std::vector<Sample>& top1 = samples_of("acc/test_top1");
  const std::vector<Sample>& loss = samples_of("loss/train");
  const double inputs_per_epoch = static_cast<double>(top1.front().step);
  DGC_CHECK(inputs_per_epoch > 0, path,
            ": the first acc/test_top1 row is at step 0, so an epoch's length is unknown");
  const auto in_epochs = [&](const std::vector<Sample>& samples) {
    std::vector<Point> points;
    for (const Sample& sample : samples) {
      points.push_back({sample.step / inputs_per_epoch, sample.value});
    }
    return points;
  };
  return {label, in_epochs(loss), in_epochs(top1)};
}

std::string run_label(const std::string& dir) {
  std::string trimmed = dir;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  return std::filesystem::path(trimmed).filename().string();
}

}  // namespace dgc::plot
