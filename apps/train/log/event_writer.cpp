#include "log/event_writer.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "dgc/error.h"
#include "log/crc32c.h"

namespace dgc::train {
namespace {

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
constexpr std::uint32_t kVarint = 0;
constexpr std::uint32_t kFixed64 = 1;
constexpr std::uint32_t kLengthDelimited = 2;
constexpr std::uint32_t kFixed32 = 5;

// Field numbers from tensorflow/core/util/event.proto and framework/summary.proto.
constexpr std::uint32_t kEventWallTime = 1;     // double
constexpr std::uint32_t kEventStep = 2;         // int64
constexpr std::uint32_t kEventFileVersion = 3;  // string
constexpr std::uint32_t kEventSummary = 5;      // Summary
constexpr std::uint32_t kEventSessionLog = 7;   // SessionLog
constexpr std::uint32_t kSessionLogStatus = 1;  // enum SessionStatus
constexpr std::uint64_t kSessionStart = 1;      // SessionLog.START
constexpr std::uint32_t kSummaryValue = 1;      // repeated Summary.Value
constexpr std::uint32_t kValueTag = 1;          // string
constexpr std::uint32_t kValueSimpleValue = 2;  // float

constexpr const char* kFileVersion = "brain.Event:2";

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_key(std::string& out, std::uint32_t field, std::uint32_t wire_type) {
  put_varint(out, (static_cast<std::uint64_t>(field) << 3) | wire_type);
}

// Little-endian regardless of the host, as protobuf's fixed types and TFRecord's framing are.
void put_fixed(std::string& out, std::uint64_t bits, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
}

void put_bytes(std::string& out, std::uint32_t field, const std::string& bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_double(std::string& out, std::uint32_t field, double value) {
  std::uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  put_key(out, field, kFixed64);
  put_fixed(out, bits, 8);
}

void put_float(std::string& out, std::uint32_t field, float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  put_key(out, field, kFixed32);
  put_fixed(out, bits, 4);
}

// Event fields common to every record. proto3 would omit a zero step; writing it anyway is
// equally valid and keeps the encoder free of special cases.
std::string event_header(std::int64_t step) {
  const double wall_time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string event;
  put_double(event, kEventWallTime, wall_time);
  put_key(event, kEventStep, kVarint);
  // int64 (not sint64): a negative step is its two's complement as a 10-byte varint.
  put_varint(event, static_cast<std::uint64_t>(step));
  return event;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

EventWriter::EventWriter(const std::string& run_dir) {
  std::error_code error;
  std::filesystem::create_directories(run_dir, error);
  DGC_CHECK(!error, "cannot create run directory ", run_dir, ": ", error.message());

  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  path_ = (std::filesystem::path(run_dir) /
           ("events.out.tfevents." + std::to_string(seconds) + "." + host_name()))
              .string();
  // Append, never truncate: a second writer started in the same second on the same host
  // (a quick restart) then adds a valid record stream to the file instead of destroying it.
  file_.reset(std::fopen(path_.c_str(), "ab"));
  DGC_CHECK(file_ != nullptr, "cannot open event file ", path_, ": ", std::strerror(errno));

  std::string event = event_header(0);
  put_bytes(event, kEventFileVersion, kFileVersion);
  write_record(event);
}

void EventWriter::add_scalar(const std::string& tag, double value, std::int64_t step) {
  std::string summary_value;
  put_bytes(summary_value, kValueTag, tag);
  put_float(summary_value, kValueSimpleValue, static_cast<float>(value));
  std::string summary;
  put_bytes(summary, kSummaryValue, summary_value);

  std::string event = event_header(step);
  put_bytes(event, kEventSummary, summary);
  write_record(event);
}

void EventWriter::purge_from(std::int64_t step) {
  std::string session_log;
  put_key(session_log, kSessionLogStatus, kVarint);
  put_varint(session_log, kSessionStart);
  std::string event = event_header(step);
  put_bytes(event, kEventSessionLog, session_log);
  write_record(event);
}

void EventWriter::flush() {
  DGC_CHECK(std::fflush(file_.get()) == 0, "cannot write event file ", path_, ": ",
            std::strerror(errno));
}

// Write-through: the trainer adds about one scalar per step, a few dozen bytes, so an fflush
// per record costs nothing next to a training step, and a crashed or killed run keeps its log
// up to the last step instead of losing a buffer's worth.
void EventWriter::write_record(const std::string& data) {
  std::string record;
  record.reserve(data.size() + 16);
  put_fixed(record, data.size(), 8);
  put_fixed(record, masked_crc32c(record.data(), 8), 4);
  record += data;
  put_fixed(record, masked_crc32c(data.data(), data.size()), 4);

  const bool written = std::fwrite(record.data(), 1, record.size(), file_.get()) == record.size();
  DGC_CHECK(written && std::fflush(file_.get()) == 0, "cannot write event file ", path_, ": ",
            std::strerror(errno));
}

}  // namespace dgc::train
